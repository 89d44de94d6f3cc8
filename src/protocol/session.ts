/**
 * What a run carries from node to node in `RunMeta.session`, slot by slot: each consistency level
 * keeps its state in its own slot (`rr`, `cc`, `tc`, `txn`), and the gateway puts a future's id
 * and retention there. One place names the slots, their types and the one bound on their size.
 *
 * A slot that arrives from a peer is untrusted until the level that owns it has checked it (each
 * level's reader does, with {@link MAX_SESSION_KEYS}); these types say what a well-formed slot
 * holds, which is what every writer produces.
 */
import type { Timestamp } from "../lattice/index.js";

/**
 * Most entries one slot may name: keys read (`rr`, `tc`), dependencies (`cc`, `tc`), buffered
 * writes (`txn`). Past it the run fails with `VALUE_TOO_LARGE` rather than carry an unbounded
 * session in every trigger.
 */
export const MAX_SESSION_KEYS = 100_000;

/** A dependency map: user key → vector clock (as a plain record of node → counter). */
export type DepRecord = Record<string, Record<string, number>>;

/** What a repeatable-read run carries (`session.rr`). */
export interface RrSlot {
  /** Pin key of the run that pinned (a nested call keeps its caller's). */
  p: string;
  /** Storage key → version read: its tag (`-` for a key read as absent) and the pinning node. */
  r: Record<string, [tag: string, node: string]>;
}

/** What a transactional-causal run carries (`session.tc`). */
export interface TcSlot {
  /** Pin key of the run that pinned. */
  p: string;
  /** R: storage key → exact version read (tag, pinning node, and a causal version's clock). */
  r: Record<string, [tag: string, node: string, clock?: Record<string, number>]>;
  /** S: the snapshot, the join of the read versions and their dependencies. */
  s: DepRecord;
}

/**
 * A buffered write as a read-atomic run carries it: key, 0 (a whole value) or 1 (a merge), the
 * encoded lattice (null: a delete), and an id that is the same wherever the write travels.
 */
export type CarriedWrite = [key: string, mode: 0 | 1, value: Uint8Array | null, id?: string];

/**
 * What a read-atomic run carries (`session.txn`): the transaction id and attempt (epoch), its
 * start, its home (the node that keeps its snapshot, where every read of the run goes), how many
 * reads the home answered on the way here, and the buffered writes. The writes travel with the
 * run, so nothing reaches storage before the sink commits.
 */
export interface CarriedTxn {
  id: string;
  e: number;
  s: Timestamp;
  /** The DAG the run started with (for status and debugging). */
  d?: string;
  /** The home: node id and address. Set by the run's first node, from `RunMeta.home`. */
  h?: [node: string, addr: string];
  /** Reads the home answered before this point (on the path to here). */
  n: number;
  w: CarriedWrite[];
  /**
   * Present in a nested call that joined its caller's transaction: the writes the call made
   * itself, which go back to the caller with its result instead of being committed.
   */
  j?: CarriedWrite[];
}

/** Every slot of `RunMeta.session`. */
export interface SessionSlots {
  /** repeatable-read (src/consistency). */
  rr?: RrSlot;
  /** causal: the run's dependencies (src/consistency). */
  cc?: DepRecord;
  /** transactional-causal (src/consistency). */
  tc?: TcSlot;
  /** read-atomic: the run's transaction (src/txn). */
  txn?: CarriedTxn;
  /** The future the run's sink makes durable (set by the gateway for `future: true` calls). */
  future?: string;
  /** How long that future's outcome stays readable, in ms. */
  futureTtlMs?: number;
}

/** A slot's name. */
export type SessionSlot = keyof SessionSlots;

/** The slots by name, for code that builds a session with a computed key. */
export const SESSION_SLOTS = {
  rr: "rr",
  cc: "cc",
  tc: "tc",
  txn: "txn",
  future: "future",
  futureTtlMs: "futureTtlMs",
} as const satisfies { [S in SessionSlot]: S };

/**
 * The session a nested call (`ctx.call`) carries on from its caller's: everything but the
 * caller's future, which only the caller's sink resolves.
 *
 * @example
 * ```ts
 * nestedSession({ cc: deps, future: "f1", futureTtlMs: 60_000 }); // { cc: deps }
 * ```
 */
export function nestedSession(s: SessionSlots): SessionSlots {
  const { future: _future, futureTtlMs: _ttl, ...carried } = s;
  return carried;
}

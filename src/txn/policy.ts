import type { RunSession, SessionPolicy, SessionPolicyFactory } from "../consistency/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { decodeLattice, encodeLattice, isTimestamp } from "../lattice/index.js";
import type { HybridClock, Timestamp } from "../lattice/index.js";
import type { RunMeta } from "../scheduler/index.js";
import type { ReadValue } from "../state/index.js";
import { userKey } from "../state/index.js";
import { localBackend } from "./local.js";
import type { TxnManager } from "./manager.js";
import { tidForRequest } from "./record.js";
import { Transaction, newTid } from "./transaction.js";
import type { TxnBackend, WireWrite } from "./transaction.js";

/**
 * What a read-atomic run carries in `RunMeta.session.txn` from node to node: the transaction id
 * and attempt (epoch), its start, its read set and its buffered writes. The writes travel with
 * the run, so nothing reaches storage before the sink commits.
 */
export interface CarriedTxn {
  id: string;
  e: number;
  s: Timestamp;
  /** The DAG the transaction belongs to; a nested call (another DAG) runs its own transaction. */
  d?: string;
  r: [string, string | null][];
  w: WireWrite[];
}

/** The session key of a read-atomic run's transaction. */
export const TXN_SESSION_KEY = "txn";

/** Builds what the gateway puts in a read-atomic run's session when it starts it. */
export function startedTxn(tid: string, epoch: number, start: Timestamp, dag: string): CarriedTxn {
  return { id: tid, e: epoch, s: start, d: dag, r: [], w: [] };
}

/**
 * The `read-atomic` consistency level: a whole run (a DAG run, a call) is one read-atomic
 * transaction. Reads follow the read-atomic rule across every node of the run, writes are
 * buffered and carried with the run, and the sink commits them (with the run's result) in one
 * record; a retry of the same request finds that record and returns its result.
 *
 * @example
 * ```ts
 * const mgr = await TxnManager.start({ store, clock });
 * await Node.start({ ..., sessionPolicies: [readAtomicPolicy(mgr)] });
 * ```
 */
export function readAtomicPolicy(mgr: TxnManager): SessionPolicyFactory {
  return (env) => new ReadAtomicPolicy(mgr, env.clock);
}

class ReadAtomicPolicy implements SessionPolicy {
  readonly level = "read-atomic" as const;
  private readonly backend: TxnBackend;

  constructor(
    mgr: TxnManager,
    private readonly clock: HybridClock,
  ) {
    this.backend = localBackend(mgr, clock);
  }

  open(meta: RunMeta): RunSession {
    const c = carried(meta);
    if (c === undefined || (c.d !== undefined && meta.dag !== undefined && c.d !== meta.dag)) {
      // A run no gateway started (a schedule tick) or a nested call: its own transaction, keyed
      // by the run so that every node of it agrees.
      const tid = c === undefined ? tidForRequest(meta.run) : newTid();
      const tx = new Transaction(this.backend, tid, this.clock.now(), meta.attempt + 1);
      const fresh: CarriedTxn = { id: tid, e: tx.epoch, s: tx.startedAt, r: [], w: [] };
      if (meta.dag !== undefined) fresh.d = meta.dag;
      return new ReadAtomicSession(tx, meta, fresh);
    }
    return new ReadAtomicSession(
      new Transaction(this.backend, c.id, c.s, c.e, { reads: c.r, writes: c.w }),
      meta,
      c,
    );
  }

  join(metas: RunMeta[]): RunMeta {
    const first = metas[0] as RunMeta;
    const base = carried(first);
    if (base === undefined) return first;
    const tx = new Transaction(this.backend, base.id, base.s, base.e, {
      reads: base.r,
      writes: [],
    });
    for (const m of metas) {
      const c = carried(m);
      if (c === undefined || c.id !== base.id) continue;
      tx.absorb(c.r, c.w);
    }
    const txn: CarriedTxn = { ...base, r: tx.readSet(), w: tx.carriedWrites() };
    return { ...first, session: { ...first.session, [TXN_SESSION_KEY]: txn } };
  }
}

class ReadAtomicSession implements RunSession {
  constructor(
    private readonly tx: Transaction,
    private readonly meta: RunMeta,
    private readonly c: CarriedTxn,
  ) {}

  get(key: unknown): Promise<ReadValue | undefined> {
    return this.tx.read(checked(key));
  }

  async getLattice(key: unknown): Promise<Uint8Array | undefined> {
    const l = await this.tx.view(checked(key));
    return l === undefined ? undefined : encodeLattice(l);
  }

  put(key: unknown, value: Uint8Array): Promise<void> {
    this.tx.putBytes(checked(key), value);
    return Promise.resolve();
  }

  merge(key: unknown, lattice: Uint8Array): Promise<void> {
    if (!(lattice instanceof Uint8Array)) throw new InvalidArgumentError("merge takes a lattice");
    this.tx.mergeLattice(checked(key), decodeLattice(lattice));
    return Promise.resolve();
  }

  delete(key: unknown): Promise<void> {
    this.tx.delete(checked(key));
    return Promise.resolve();
  }

  forward(): RunMeta {
    const txn: CarriedTxn = { ...this.c, r: this.tx.readSet(), w: this.tx.carriedWrites() };
    return { ...this.meta, session: { ...this.meta.session, [TXN_SESSION_KEY]: txn } };
  }

  /**
   * Commits the run's writes with its result. When an earlier attempt of the same request
   * committed, returns that attempt's result, which the caller gets instead.
   */
  async finish(ok: boolean, result?: Uint8Array): Promise<Uint8Array | void> {
    if (!ok) return this.tx.abort();
    const out = await this.tx.commit({ ...(result && { result }), always: true });
    return out.duplicate === true ? out.result : undefined;
  }
}

/** A user key, checked as every level checks it. */
function checked(key: unknown): string {
  userKey(key);
  return key as string;
}

/** The transaction a run carries; INVALID_ARGUMENT when it is malformed. */
function carried(meta: RunMeta): CarriedTxn | undefined {
  const raw: unknown = Object.hasOwn(meta.session, TXN_SESSION_KEY)
    ? meta.session[TXN_SESSION_KEY]
    : undefined;
  if (raw === undefined) return undefined;
  if (!isCarried(raw)) throw new InvalidArgumentError("malformed read-atomic session");
  return raw;
}

function isCarried(x: unknown): x is CarriedTxn {
  if (typeof x !== "object" || x === null) return false;
  const c = x as Record<string, unknown>;
  return (
    typeof c.id === "string" &&
    /^[0-9a-zA-Z_-]{1,128}$/.test(c.id) &&
    Number.isSafeInteger(c.e) &&
    (c.e as number) > 0 &&
    isTimestamp(c.s) &&
    (c.d === undefined || typeof c.d === "string") &&
    Array.isArray(c.r) &&
    c.r.length <= 100_000 &&
    c.r.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 2 &&
        typeof p[0] === "string" &&
        (p[1] === null || typeof p[1] === "string"),
    ) &&
    Array.isArray(c.w) &&
    c.w.length <= 100_000 &&
    c.w.every(
      (w) =>
        Array.isArray(w) &&
        w.length === 3 &&
        typeof w[0] === "string" &&
        (w[1] === 0 || w[1] === 1) &&
        (w[2] === null || w[2] instanceof Uint8Array),
    )
  );
}

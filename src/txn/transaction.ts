import { ClosedError, InvalidArgumentError } from "../errors/index.js";
import {
  LwwLattice,
  ZERO_TIMESTAMP,
  decodeLattice,
  encodeLattice,
  encodeValue,
  mergeLattices,
  plainValue,
} from "../lattice/index.js";
import type { Lattice, Timestamp } from "../lattice/index.js";
import type { ReadValue } from "../state/index.js";
import { idMaker } from "./ids.js";
import { WriteLog } from "./write-log.js";
import type { WireWrite } from "./write-log.js";

export type { WireWrite };

/** A read of one key in a transaction's snapshot, as it crosses the wire. */
export interface WireReadRequest {
  tid: string;
  epoch: number;
  start: Timestamp;
  key: string;
  /** Reads the snapshot answered already, as far as this reader knows. */
  n: number;
  /** Until when the snapshot must stay (a run's deadline). */
  deadline?: number;
}

/** A commit as it crosses the wire: every write with its mode (0: a whole value, 1: a merge). */
export interface WireCommit {
  tid: string;
  epoch: number;
  start: Timestamp;
  writes: [key: string, mode: 0 | 1, value: Uint8Array | null][];
  result?: Uint8Array;
  always?: boolean;
}

/** A commit whose writes are lattices, for {@link TxnBackend.inProcess}. */
export type LatticeCommit = Omit<WireCommit, "writes"> & {
  writes: [key: string, mode: 0 | 1, value: Lattice | null][];
};

/** A commit's outcome as it crosses the wire (`result`: the one recorded by the first commit). */
export interface WireCommitted {
  ts: Timestamp | null;
  result?: Uint8Array;
  duplicate?: boolean;
}

/**
 * What a {@link Transaction} runs on: the transaction's home (a manager in this process, the
 * gateway over the wire, the node from inside a function, a run's home node). Reads go to the
 * home, which keeps the snapshot; values cross it encoded, so every backend is wire-friendly.
 */
export interface TxnBackend {
  /** A start timestamp from the home's clock (it bounds the transaction's age). */
  begin: (tid: string) => Promise<Timestamp>;
  /** The encoded lattice of `key` in the snapshot, or null when the key holds nothing. */
  read: (r: WireReadRequest) => Promise<Uint8Array | null>;
  commit: (c: WireCommit) => Promise<WireCommitted>;
  /** Drops the snapshot at the home (the transaction aborted). */
  release?: (tid: string, epoch: number) => Promise<void>;
  /**
   * A manager in this process: the same reads and commits with lattices as they are, skipping
   * an encode and a decode of every value (4 KiB values: ~20 µs each way).
   */
  inProcess?: {
    read: (r: WireReadRequest) => Promise<Lattice | undefined>;
    commit: (c: LatticeCommit) => Promise<WireCommitted>;
  };
}

/** A buffered write: a whole new value (put, delete) or a lattice merged into what is read. */
type Pending = { set: Lattice | null } | { merge: Lattice };

/** A fresh transaction id: this process's random 96-bit prefix and a counter. */
export const newTid: () => string = idMaker("t", 12);

/**
 * A read-atomic transaction. Writes are buffered here and become visible together at
 * {@link commit}, or never. Reads see this transaction's own writes, repeat themselves, and never
 * see part of another transaction's writes (no fractured reads) or uncommitted data (no dirty
 * reads): they go to the transaction's home, which keeps its snapshot. Merges compose: a merge is
 * joined with every other committed write of the key (two transactions merging `counter(1)` into
 * one key leave 2). It is not serializable: two transactions that read and `put` the same key
 * both commit, and the later commit wins.
 *
 * @example
 * ```ts
 * const tx = await cloud.txn.begin();
 * const n = ((await tx.get("balance/a")) as number) ?? 0;
 * tx.put("balance/a", n - 10);
 * tx.put("balance/b", 10);
 * await tx.commit(); // both or neither
 * ```
 */
export class Transaction {
  private readonly reads = new Map<string, Lattice | undefined>();
  private readonly writes = new Map<string, Pending>();
  private readonly log = new WriteLog();
  private done: "committed" | "aborted" | undefined;
  /** Reads the snapshot answered before this object existed (a run's earlier nodes). */
  private readonly readsBefore: number;
  /** Reads the snapshot answered elsewhere meanwhile, as reported back (a nested call's). */
  private readsElsewhere = 0;

  constructor(
    private readonly backend: TxnBackend,
    readonly id: string,
    private readonly start: Timestamp,
    readonly epoch = 1,
    carried?: { writes: WireWrite[]; reads?: number },
    private readonly deadline?: number,
  ) {
    this.readsBefore = carried?.reads ?? 0;
    for (const w of carried?.writes ?? []) this.apply(this.log.take(w));
  }

  /** Applies a write from elsewhere after this transaction's own (a merge merges). */
  private apply(op: { k: string; mode: 0 | 1; l: Lattice | null } | undefined): void {
    if (op === undefined) return; // taken in already (a fan-in's common upstream)
    const { k, l } = op;
    if (op.mode === 0 || l === null) return void this.writes.set(k, { set: l });
    const w = this.writes.get(k);
    if (w === undefined) this.writes.set(k, { merge: l });
    else if ("set" in w) this.writes.set(k, { set: w.set === null ? l : combine(w.set, l, k) });
    else this.writes.set(k, { merge: combine(w.merge, l, k) });
  }

  /** The start timestamp (it bounds the transaction's age). */
  get startedAt(): Timestamp {
    return this.start;
  }

  /** Reads the snapshot answered, as far as this object knows (carried on to a run's next node). */
  get readCount(): number {
    return Math.max(this.readsBefore + this.reads.size, this.readsElsewhere);
  }

  /** Another reader of the same snapshot (a nested call) saw it answer `n` reads. */
  noteReads(n: number): void {
    this.readsElsewhere = Math.max(this.readsElsewhere, n);
  }

  /** Lets the home drop the snapshot (after a commit on another node than the home). */
  releaseHome(): void {
    void this.backend.release?.(this.id, this.epoch).catch(() => undefined);
  }

  /** Takes in the writes of another branch of the same run (a fan-in), after this one's. */
  absorb(writes: WireWrite[]): void {
    for (const w of writes) this.apply(this.log.take(w));
  }

  /** The buffered writes, as a run carries them to its next node (see {@link WriteLog}). */
  carriedWrites(): WireWrite[] {
    return this.log.wire();
  }

  /** Starts a transaction on `backend`. */
  static async begin(backend: TxnBackend, id = newTid()): Promise<Transaction> {
    return new Transaction(backend, id, await backend.begin(id));
  }

  /** The plain value of `key` as this transaction sees it, encoded; undefined when none. */
  async read(key: string): Promise<ReadValue | undefined> {
    const l = await this.view(key);
    if (l === undefined) return undefined;
    return l.kind === "lww"
      ? { bytes: l.bytes, version: l.ts }
      : { bytes: encodeValue(plainValue(l)) };
  }

  /** The lattice `key` holds as this transaction sees it. */
  async view(key: string): Promise<Lattice | undefined> {
    this.open();
    checkKey(key);
    const w = this.writes.get(key);
    if (w !== undefined && "set" in w) return w.set ?? undefined;
    const base = await this.readStored(key);
    if (w === undefined) return base;
    return base === undefined ? w.merge : mergeLattices(base, w.merge, key);
  }

  /** Buffers a last-writer-wins write of an encoded value. */
  putBytes(key: string, bytes: Uint8Array): void {
    this.open();
    checkKey(key);
    // Stamped with the commit time at commit; a later write in this transaction replaces it.
    const l = new LwwLattice(ZERO_TIMESTAMP, bytes);
    this.writes.set(key, { set: l });
    this.log.note(key, 0, l);
  }

  /** Buffers a merge of a lattice into `key`: joined at commit with every other committed write. */
  mergeLattice(key: string, l: Lattice): void {
    this.open();
    checkKey(key);
    if (typeof l !== "object" || l === null || typeof l.merge !== "function") {
      throw new InvalidArgumentError("merge takes a lattice (see lattices)");
    }
    this.apply({ k: key, mode: 1, l });
    this.log.note(key, 1, l, (prev) => (prev === null ? l : combine(prev, l, key)));
  }

  /** Buffers a delete. */
  delete(key: string): void {
    this.open();
    checkKey(key);
    this.writes.set(key, { set: null });
    this.log.note(key, 0, null);
  }

  /** The buffered writes with their modes, as a commit sends them. */
  private pending(): [string, 0 | 1, Lattice | null][] {
    return [...this.writes].map(([k, w]) => ("set" in w ? [k, 0, w.set] : [k, 1, w.merge]));
  }

  /**
   * Makes every buffered write visible at once (the commit record is the commit point). Throws
   * `TXN_ABORTED` (retryable) when it could not commit, with nothing visible, or
   * `STORAGE_UNAVAILABLE` when the outcome is unknown: call `commit()` again, it commits once.
   */
  async commit(opts: { result?: Uint8Array; always?: boolean } = {}): Promise<WireCommitted> {
    if (this.done === "aborted")
      throw new ClosedError("this transaction was aborted", { retryable: false });
    const writes = this.pending();
    const c = { tid: this.id, epoch: this.epoch, start: this.start, ...opts };
    const ip = this.backend.inProcess;
    const out = ip
      ? await ip.commit({ ...c, writes })
      : await this.backend.commit({
          ...c,
          writes: writes.map(([k, m, v]) => [k, m, v === null ? null : encodeLattice(v)]),
        });
    this.done = "committed";
    return out;
  }

  /** Drops the buffered writes; storage was never touched. */
  async abort(): Promise<void> {
    if (this.done !== undefined) return;
    this.done = "aborted";
    this.writes.clear();
    this.log.clear();
    await this.backend.release?.(this.id, this.epoch).catch(() => undefined);
  }

  private async readStored(key: string): Promise<Lattice | undefined> {
    if (this.reads.has(key)) return this.reads.get(key); // repeatable read
    const r: WireReadRequest = {
      tid: this.id,
      epoch: this.epoch,
      start: this.start,
      key,
      n: this.readCount,
    };
    if (this.deadline !== undefined) r.deadline = this.deadline;
    const ip = this.backend.inProcess;
    let value: Lattice | undefined;
    if (ip !== undefined) value = await ip.read(r);
    else {
      const v = await this.backend.read(r);
      value = v === null ? undefined : decodeLattice(v);
    }
    this.reads.set(key, value);
    return value;
  }

  private open(): void {
    if (this.done !== undefined)
      throw new ClosedError(`this transaction was ${this.done}`, { retryable: false });
  }
}

/** Two buffered writes of one key: a later last-writer-wins value replaces an earlier one. */
function combine(a: Lattice, b: Lattice, key: string): Lattice {
  if (a.kind === "lww" && b.kind === "lww" && b.ts === ZERO_TIMESTAMP) return b;
  return mergeLattices(a, b, key);
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > 4096) {
    throw new InvalidArgumentError("a transaction key must be a non-empty string");
  }
}

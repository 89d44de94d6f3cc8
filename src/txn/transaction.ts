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

/**
 * What a {@link Transaction} runs on: a manager in this process, the gateway over the wire, or
 * the node from inside a function. Values cross it encoded, so every backend is wire-friendly.
 */
export interface TxnBackend {
  /** A start timestamp from the backend's clock (it bounds the transaction's age). */
  begin(): Promise<Timestamp>;
  read(key: string, reads: [string, string | null][], start: Timestamp): Promise<WireRead>;
  /** The value of one known version (a read carried over from another node of the run). */
  readAt?(key: string, rid: string | null): Promise<Uint8Array | null>;
  commit(c: WireCommit): Promise<WireCommitted>;
  /**
   * A manager in this process: the same reads and commits with lattices as they are, skipping
   * an encode and a decode of every value (4 KiB values: ~20 µs each way).
   */
  inProcess?: {
    read(
      key: string,
      reads: [string, string | null][],
      start: Timestamp,
    ): Promise<{ rid: string | null; value: Lattice | undefined }>;
    commit(c: LatticeCommit): Promise<WireCommitted>;
  };
}

/** A commit whose writes are lattices (null deletes), for {@link TxnBackend.inProcess}. */
export type LatticeCommit = Omit<WireCommit, "writes"> & { writes: [string, Lattice | null][] };

/** A commit's outcome as it crosses the wire (`result`: the one recorded by the first commit). */
export interface WireCommitted {
  ts: Timestamp | null;
  result?: Uint8Array;
  duplicate?: boolean;
}

/** A read as it crosses the wire: the version's record id and encoded lattice. */
export interface WireRead {
  rid: string | null;
  value: Uint8Array | null;
}

/** A commit as it crosses the wire. */
export interface WireCommit {
  tid: string;
  epoch: number;
  start: Timestamp;
  reads: [string, string | null][];
  writes: [string, Uint8Array | null][];
  result?: Uint8Array;
  always?: boolean;
}

/** A buffered write: a whole new value (put, delete) or a lattice merged into what is read. */
type Pending = { set: Lattice | null } | { merge: Lattice };

interface Read {
  rid: string | null;
  value: Lattice | undefined;
  /** False for a read carried from another node: its value is fetched on first use. */
  loaded: boolean;
}

/** A fresh transaction id: this process's random 96-bit prefix and a counter. */
export const newTid: () => string = idMaker("t", 12);

/**
 * A read-atomic transaction. Writes are buffered here and become visible together at
 * {@link commit}, or never. Reads see this transaction's own writes, repeat themselves, and never
 * see part of another transaction's writes (no fractured reads) or uncommitted data (no dirty
 * reads). It is not serializable: two transactions that read and write the same key both commit,
 * and the later commit wins. That holds for merges too: a merge is applied to the version this
 * transaction read, so two concurrent transactions merging `counter(1)` into one key leave 1, not
 * 2. For contended commutative updates, merge outside a transaction (`ctx.merge` at `lww`).
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
  private readonly reads = new Map<string, Read>();
  private readonly writes = new Map<string, Pending>();
  private readonly log = new WriteLog();
  private done: "committed" | "aborted" | undefined;

  constructor(
    private readonly backend: TxnBackend,
    readonly id: string,
    private readonly start: Timestamp,
    readonly epoch = 1,
    carried?: { reads: [string, string | null][]; writes: WireWrite[] },
  ) {
    for (const [k, rid] of carried?.reads ?? []) {
      this.reads.set(k, { rid, value: undefined, loaded: false });
    }
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

  /**
   * Takes in what another branch of the same run read and wrote (a fan-in): reads it made that
   * this one did not, and its writes after this one's (a whole value replaces, a merge merges).
   */
  absorb(reads: [string, string | null][], writes: WireWrite[]): void {
    for (const [k, rid] of reads) {
      if (!this.reads.has(k)) this.reads.set(k, { rid, value: undefined, loaded: false });
    }
    for (const w of writes) this.apply(this.log.take(w));
  }

  /** The buffered writes, as a run carries them to its next node (see {@link WriteLog}). */
  carriedWrites(): WireWrite[] {
    return this.log.wire();
  }

  /** Starts a transaction on `backend`. */
  static async begin(backend: TxnBackend, id = newTid()): Promise<Transaction> {
    return new Transaction(backend, id, await backend.begin());
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
    const base = (await this.readStored(key)).value;
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

  /** Buffers a merge of a lattice into `key`. */
  mergeLattice(key: string, l: Lattice): void {
    this.open();
    checkKey(key);
    if (typeof l !== "object" || l === null || typeof l.merge !== "function") {
      throw new InvalidArgumentError("merge takes a lattice (see lattices)");
    }
    this.apply({ k: key, mode: 1, l });
    this.log.note(key, 1, l, (prev) => (prev === null ? l : combine(prev, l, key)));
  }

  /** Buffers a whole new lattice for `key` (null deletes it), replacing what was buffered. */
  setLattice(key: string, l: Lattice | null): void {
    this.open();
    checkKey(key);
    this.writes.set(key, { set: l });
    this.log.note(key, 0, l);
  }

  /** Buffers a delete. */
  delete(key: string): void {
    this.open();
    checkKey(key);
    this.writes.set(key, { set: null });
    this.log.note(key, 0, null);
  }

  /**
   * Makes every buffered write visible at once (the commit record is the commit point). Throws
   * `TXN_ABORTED` (retryable) when it could not commit, with nothing visible, or
   * `STORAGE_UNAVAILABLE` when the outcome is unknown: call `commit()` again, it commits once.
   */
  async commit(opts: { result?: Uint8Array; always?: boolean } = {}): Promise<WireCommitted> {
    if (this.done === "aborted") throw new ClosedError("this transaction was aborted");
    const writes: [string, Lattice | null][] = [];
    for (const [k, w] of this.writes)
      writes.push([k, ("set" in w ? w.set : await this.view(k)) ?? null]);
    const c = {
      tid: this.id,
      epoch: this.epoch,
      start: this.start,
      reads: this.readSet(),
      ...opts,
    };
    const ip = this.backend.inProcess;
    const out = ip
      ? await ip.commit({ ...c, writes })
      : await this.backend.commit({
          ...c,
          writes: writes.map(([k, v]) => [k, v === null ? null : encodeLattice(v)]),
        });
    this.done = "committed";
    return out;
  }

  /** Drops the buffered writes; storage was never touched. */
  abort(): Promise<void> {
    this.done ??= "aborted";
    this.writes.clear();
    this.log.clear();
    return Promise.resolve();
  }

  /** The versions read so far, for the backend's read-atomic choice. */
  readSet(): [string, string | null][] {
    return [...this.reads].map(([k, r]) => [k, r.rid]);
  }

  private async readStored(key: string): Promise<Read> {
    const known = this.reads.get(key);
    if (known !== undefined && !known.loaded) {
      const v = this.backend.readAt
        ? await this.backend.readAt(key, known.rid)
        : (await this.backend.read(key, this.readSet(), this.start)).value;
      known.value = v === null ? undefined : decodeLattice(v);
      known.loaded = true;
    }
    if (known !== undefined) return known; // repeatable read
    const ip = this.backend.inProcess;
    let read: Read;
    if (ip !== undefined) {
      read = { ...(await ip.read(key, this.readSet(), this.start)), loaded: true };
    } else {
      const r = await this.backend.read(key, this.readSet(), this.start);
      read = {
        rid: r.rid,
        value: r.value === null ? undefined : decodeLattice(r.value),
        loaded: true,
      };
    }
    this.reads.set(key, read);
    return read;
  }

  private open(): void {
    if (this.done !== undefined) throw new ClosedError(`this transaction was ${this.done}`);
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

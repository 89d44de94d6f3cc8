import { OverloadedError } from "../errors/index.js";
import { TxnAbortedError } from "../errors/index.js";
import type { Timestamp } from "../lattice/index.js";
import { TxnSnapshot } from "./snapshot.js";
import type { SnapshotSource } from "./snapshot.js";

/** Bounds of a {@link SnapshotTable}. */
export interface SnapshotTableOptions {
  /** Snapshots held at once; past it a new one is refused with `OVERLOADED`. @default 100000 */
  maxSnapshots?: number;
  /** Bytes of values held by all snapshots; past it new reads are refused. @default 268435456 */
  maxBytes?: number;
}

/**
 * The snapshots a node serves as the home of transactions and runs (see {@link TxnSnapshot}),
 * by id (`<tid>.<epoch>`). A snapshot lives until its run or transaction releases it, or its
 * deadline passes; both the count and the bytes it holds are bounded.
 *
 * @example
 * ```ts
 * const table = new SnapshotTable(manager);
 * const snap = table.open("q1.1", start, deadline, 0);
 * await snap.read("k");
 * table.release("q1.1");
 * ```
 */
export class SnapshotTable {
  private readonly byId = new Map<string, TxnSnapshot>();
  private readonly maxSnapshots: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly src: SnapshotSource,
    o: SnapshotTableOptions = {},
  ) {
    this.maxSnapshots = o.maxSnapshots ?? 100_000;
    this.maxBytes = o.maxBytes ?? 256 * 1024 * 1024;
    this.timer = setInterval(() => this.sweep(Date.now()), 1000);
    this.timer.unref();
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The snapshot `id`, created when absent. `readsBefore` is how many reads the caller knows the
   * snapshot answered already (its run's other nodes, a client's earlier reads): a snapshot that
   * answered fewer was lost (this process restarted, or it expired), and reading on from a fresh
   * one could mix two snapshots, so that is `TXN_ABORTED` (retryable).
   */
  open(id: string, start: Timestamp, deadline: number, readsBefore: number): TxnSnapshot {
    let s = this.byId.get(id);
    if (s === undefined) {
      if (readsBefore > 0) {
        throw new TxnAbortedError(
          `the snapshot of ${id} is gone from its home node (restarted or expired); start again`,
        );
      }
      if (this.byId.size >= this.maxSnapshots) {
        throw new OverloadedError(
          `${this.byId.size} transactions are reading on this node; the bound is ${this.maxSnapshots}`,
        );
      }
      s = new TxnSnapshot(id, start, deadline, this.src);
      this.byId.set(id, s);
    } else if (s.reads < readsBefore) {
      throw new TxnAbortedError(`the snapshot of ${id} lost reads; start again`);
    }
    if (deadline > s.deadline) s.deadline = deadline;
    if (this.bytes >= this.maxBytes) {
      throw new OverloadedError(
        `transactions on this node hold ${this.bytes} bytes of read values; the bound is ${this.maxBytes}`,
      );
    }
    return s;
  }

  /** Reads `key` in snapshot `id`, accounting for the bytes it holds. */
  async read(
    id: string,
    start: Timestamp,
    deadline: number,
    readsBefore: number,
    key: string,
  ): ReturnType<TxnSnapshot["read"]> {
    const s = this.open(id, start, deadline, readsBefore);
    const before = s.bytes;
    try {
      return await s.read(key);
    } finally {
      if (this.byId.get(id) === s) this.bytes += s.bytes - before;
    }
  }

  get(id: string): TxnSnapshot | undefined {
    return this.byId.get(id);
  }

  /** Drops snapshot `id` (its transaction committed or aborted). */
  release(id: string): void {
    const s = this.byId.get(id);
    if (s === undefined) return;
    this.byId.delete(id);
    this.bytes -= s.bytes;
  }

  /** Drops snapshots past their deadline. */
  sweep(now: number): void {
    for (const [id, s] of this.byId) if (s.deadline < now) this.release(id);
  }

  close(): void {
    clearInterval(this.timer);
    this.byId.clear();
    this.bytes = 0;
  }
}

/**
 * Read-atomic transactions as user code holds them: `ctx.txn` inside a function, `cloud.txn` on a
 * client. Interfaces only; src/txn implements them over the gateway's `txn.*` methods.
 */
import type { Lattice } from "../lattice/index.js";

/**
 * `ctx.txn` and `cloud.txn`: starts transactions.
 *
 * @example
 * ```ts
 * const tx = await ctx.txn.begin();
 * tx.put("a", 1);
 * await tx.commit();
 * ```
 */
export interface Transactions {
  /** Starts a read-atomic transaction. */
  begin(): Promise<TransactionHandle>;
}

/**
 * One read-atomic transaction. Writes are buffered and become visible together at `commit()`,
 * or never; reads see the transaction's own writes, repeat themselves, and never see part of
 * another transaction's writes or uncommitted data.
 *
 * @example
 * ```ts
 * const tx = await cloud.txn.begin();
 * const a = ((await tx.get<number>("acct/a")) ?? 100) - 10;
 * tx.put("acct/a", a);
 * tx.merge("transfers", lattices.counter(1));
 * await tx.commit(); // TXN_ABORTED (retryable) leaves nothing visible
 * ```
 */
export interface TransactionHandle {
  /** The transaction id. */
  readonly id: string;
  /** The plain value of `key` as this transaction sees it; undefined when none. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** The lattice `key` holds as this transaction sees it. */
  getLattice(key: string): Promise<Lattice | undefined>;
  /** Buffers a last-writer-wins write. */
  put(key: string, value: unknown): void;
  /**
   * Buffers a merge of a lattice. At commit it is joined with every other committed write of the
   * key: two transactions that each merge `counter(1)` leave 2.
   */
  merge(key: string, lattice: Lattice): void;
  /** Buffers a delete. */
  delete(key: string): void;
  /**
   * Makes every write visible at once. `TXN_ABORTED` (retryable): nothing was written, start a
   * new transaction. `STORAGE_UNAVAILABLE`: the outcome is unknown, call `commit()` again.
   */
  commit(): Promise<void>;
  /** Drops the buffered writes. */
  abort(): Promise<void>;
}

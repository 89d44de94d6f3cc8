/**
 * Transaction handles as users hold them: `cloud.txn` on a client, `ctx.txn` inside a function.
 * Both speak the gateway's `txn.*` methods (src/protocol, `GatewayApi`): a client sends them to
 * a gateway, a function to its node, which serves them from the node's own manager. They
 * implement src/function's `Transactions`. Executor workers and the client import this file
 * directly (not the index), so they load no storage code.
 */
import { decodeLattice, decodeValue, encodeLattice, encodeValue } from "../lattice/index.js";
import type { Lattice } from "../lattice/index.js";
import type { TransactionHandle, Transactions } from "../function/index.js";
import type { TxnRpc } from "../protocol/index.js";
import { Transaction } from "./transaction.js";
import type { TxnBackend } from "./transaction.js";

/** Sends one `txn.*` request (a client's rpc to its gateway, a function's host call). */
export type Rpc = TxnRpc;

/**
 * A transaction backend over the `txn.*` methods.
 *
 * @example
 * ```ts
 * const tx = await Transaction.begin(rpcBackend((method, payload) => conn.request(method, payload)));
 * ```
 */
export function rpcBackend(rpc: Rpc): TxnBackend {
  return {
    begin: async (tid) => (await rpc("txn.begin", { tid })).start,
    read: (r) =>
      rpc("txn.read", {
        tid: r.tid,
        epoch: r.epoch,
        key: r.key,
        start: r.start,
        n: r.n,
      }),
    commit: (c) =>
      rpc("txn.commit", {
        tid: c.tid,
        epoch: c.epoch,
        start: c.start,
        writes: c.writes,
      }),
    release: async (tid, epoch) => {
      await rpc("txn.abort", { tid, epoch });
    },
  };
}

/**
 * A read-atomic transaction from a client (`cloud.txn.begin()`) or a function
 * (`ctx.txn.begin()`). Writes are buffered here and
 * become visible together at `commit()`, or never; reads see this transaction's own writes,
 * repeat themselves, and never see part of another transaction's writes or uncommitted data.
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
export class ClientTransaction implements TransactionHandle {
  constructor(private readonly tx: Transaction) {}

  /** The transaction id. */
  get id(): string {
    return this.tx.id;
  }

  /** The plain value of `key` as this transaction sees it; undefined when none. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const r = await this.tx.read(key);
    return r === undefined ? undefined : decodeValue<T>(r.bytes);
  }

  /** The lattice `key` holds as this transaction sees it. */
  async getLattice(key: string): Promise<Lattice | undefined> {
    const l = await this.tx.view(key);
    return l === undefined ? undefined : decodeLattice(encodeLattice(l));
  }

  /** Buffers a last-writer-wins write. */
  put(key: string, value: unknown): void {
    this.tx.putBytes(key, encodeValue(value));
  }

  /**
   * Buffers a merge of a lattice (see `lattices`). At commit it is joined with every other
   * committed write of the key: two transactions that each merge `counter(1)` leave 2.
   */
  merge(key: string, lattice: Lattice): void {
    this.tx.mergeLattice(key, lattice);
  }

  /** Buffers a delete. */
  delete(key: string): void {
    this.tx.delete(key);
  }

  /**
   * Makes every write visible at once. `TXN_ABORTED` (retryable): nothing was written, start a
   * new transaction. `STORAGE_UNAVAILABLE`: the outcome is unknown, call `commit()` again.
   */
  async commit(): Promise<void> {
    await this.tx.commit();
  }

  /** Drops the buffered writes. */
  abort(): Promise<void> {
    return this.tx.abort();
  }
}

/**
 * `cloud.txn` and `ctx.txn`: starts transactions.
 *
 * @example
 * ```ts
 * const tx = await ctx.txn.begin();
 * tx.put("a", 1);
 * await tx.commit();
 * ```
 */
export class ClientTransactions implements Transactions {
  constructor(private readonly rpc: Rpc) {}

  /** Starts a read-atomic transaction. */
  async begin(): Promise<ClientTransaction> {
    return new ClientTransaction(await Transaction.begin(rpcBackend(this.rpc)));
  }
}

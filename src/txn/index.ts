/**
 * Read-atomic transactions over any Store (memory, Redis, Redis Cluster): buffered writes, one
 * commit record per attempt as the commit point, AFT's read-atomic version choice, epochs that
 * fence superseded attempts of exactly-once runs, and garbage collection of dominated versions.
 *
 * @example
 * ```ts
 * import { TxnManager, Transaction, localBackend } from "./txn/index.js";
 * const mgr = await TxnManager.start({ store, clock });
 * const tx = await Transaction.begin(localBackend(mgr, clock));
 * tx.putBytes("a", encodeValue(1));
 * tx.putBytes("b", encodeValue(1));
 * await tx.commit();
 * ```
 */
export { TxnAbortedError, TxnFencedError } from "../errors/index.js";
export { ClientTransaction, ClientTransactions, rpcBackend } from "./handle.js";
export type { Rpc } from "./handle.js";
export { localBackend } from "./local.js";
export { TxnManager } from "./manager.js";
export type {
  CommitRequest,
  CommitResult,
  CommitWrite,
  SnapshotRead,
  TxnManagerOptions,
  TxnStats,
} from "./manager.js";
export { TXN_DEFAULTS } from "./options.js";
export { TxnSnapshot } from "./snapshot.js";
export { SnapshotTable } from "./snapshots.js";
export type { SnapshotTableOptions } from "./snapshots.js";
export { CommitStamps, isTxnWriter } from "./stamps.js";
export { writeBack } from "./write-back.js";
export { TXN_PREFIX, checkTid, recordKey, tidForRequest } from "./record.js";
export type { TxnRecord } from "./record.js";
export { Transaction, newTid } from "./transaction.js";
export type {
  TxnBackend,
  WireCommit,
  WireCommitted,
  WireReadRequest,
  WireWrite,
} from "./transaction.js";
export { VersionIndex } from "./version-index.js";
export type { CommitMeta } from "./version-index.js";
export { TXN_SESSION_KEY, startedTxn } from "./carried.js";
export type { CarriedTxn } from "./carried.js";
export { readAtomicPolicy } from "./policy.js";
export { RunTransactionService } from "./service.js";
export { FunctionTransactions } from "./functions.js";

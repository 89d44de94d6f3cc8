/**
 * The transaction fault checker as reusable code: the four-anomaly checker (fractured reads,
 * dirty reads, lost acknowledged commits, duplicated effects) and the workload that feeds it.
 *
 * @example
 * ```ts
 * import { TxnWorkload, registerTxnCheck } from "../../testing/txn/index.js";
 * await registerTxnCheck(cloud);
 * const w = new TxnWorkload(cloud, { ns: "ra-1", consistency: "read-atomic" });
 * await w.run();
 * w.checker.check(finalState); // { fracturedReads: 0, dirtyReads: 0, lostCommits: 0, ... }
 * ```
 */
export { TxnChecker } from "./checker.js";
export type { FinalState, TagValue, TxnAnomalies, TxnCheckReport } from "./checker.js";
export { SharedTally } from "./shared.js";
export type { SharedFinal, SharedReport } from "./shared.js";
export {
  TXF_CODE,
  TXF_MERGE_FORK,
  TXF_READ,
  TXF_READ_FORK,
  TXF_READ_SOURCES,
  TXF_WRITE,
  TxnWorkload,
  registerTxnCheck,
} from "./workload.js";
export type { TxnCheckCloud, TxnWorkloadOptions, WorkloadProgress } from "./workload.js";
export type { ClientWriterCloud } from "./client-writer.js";

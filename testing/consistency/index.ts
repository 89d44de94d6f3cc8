/**
 * Consistency checkers as reusable code: the anomaly checker over run logs, and the Retwis-style
 * workload that produces them.
 *
 * @example
 * ```ts
 * import { registerRetwis, runRetwis } from "../../testing/consistency/index.js";
 * await registerRetwis(cloud);
 * const r = await runRetwis(cloud, { ns: "rr-1", consistency: "repeatable-read", runs: 1000 });
 * r.tally.violations("repeatable-read"); // 0
 * ```
 */
export { ANOMALIES, AnomalyTally, PREVENTS, checkRun } from "./checker.js";
export type { Anomaly, ReadRecord } from "./checker.js";
export { RETWIS_CODE, RETWIS_FUNCTIONS, TIMELINE, registerRetwis, runRetwis } from "./retwis.js";
export type { RetwisCloud, RetwisOptions, RetwisResult } from "./retwis.js";

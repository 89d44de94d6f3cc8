/**
 * Statistics: per function calls/s, latency histograms, queueing delay and errors; per node
 * utilisation and cache figures. Each process records them cheaply on its hot path
 * ({@link StatsRecorder}), publishes a compact expiring snapshot to the store
 * ({@link StatsPublisher}, `sys/stats/<id>`), and {@link readClusterStats} merges them.
 *
 * @example
 * ```ts
 * import { readClusterStats } from "./stats/index.js";
 * const s = await readClusterStats(store);
 * console.log(s.functions.inc?.p99Ms, s.nodes);
 * ```
 */
export {
  addEncoded,
  encodeHistogram,
  latencyHistogram,
  percentileMs,
  recordMs,
} from "./histogram.js";
export { DepartedTotals } from "./departed.js";
export type { DepartedTotalsOptions, Totals } from "./departed.js";
export { StatsPublisher } from "./publisher.js";
export type { NodeSample, StatsPublisherOptions } from "./publisher.js";
export { readClusterStats, readStatsRecords, windowQueueMs } from "./reader.js";
export type {
  AgedRecord,
  ClusterStats,
  FunctionStats,
  NodeStats,
  ReadStatsOptions,
  RunStats,
} from "./reader.js";
export { STATS_PREFIX, parseStatsRecord } from "./record.js";
export type { FnWindow, NodeFigures, StatsRecord } from "./record.js";
export { OTHER_FUNCTIONS, StatsRecorder } from "./recorder.js";

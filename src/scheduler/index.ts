/**
 * Scheduling: function and DAG registry, membership from heartbeats, placement by locality and
 * load, the dispatcher that runs calls and retries them, and the client-facing gateway.
 *
 * @example
 * ```ts
 * import { Dispatcher, Placer, Membership } from "./scheduler/index.js";
 * const placer = new Placer(() => membership.list(), "locality");
 * ```
 */
export {
  buildSchedule,
  checkName,
  dagShape,
  sinksOf,
  sources,
  topoOrder,
  validateDag,
} from "./dag.js";
export type { DagSpec } from "./dag.js";
export { DEFAULT_MAX_RETRIES, Dispatcher, singleFunctionDag } from "./dispatcher.js";
export type { DispatcherOptions, RunRequest } from "./dispatcher.js";
export { DEFAULT_FUTURE_RETENTION_MS, futureNotStored, storeFuture } from "./futures.js";
export type { FutureOutcome } from "./futures.js";
export { Gateway } from "./gateway.js";
export type { GatewayOptions, ScheduleAdmin, ScheduleInfo, SourceValidator } from "./gateway.js";
export { RunStarter } from "./runs.js";
export type { RunTransactions, RunTxnStart } from "./runs.js";
export { Heartbeat, Membership } from "./membership.js";
export type { Member, MembershipOptions } from "./membership.js";
export { Peers } from "./peers.js";
export type { LocalSink, PeersOptions } from "./peers.js";
export { PLACEMENT_POLICIES, Placer } from "./placement.js";
export type { PlacementPolicy, PlacementRequest } from "./placement.js";
export { FN_HISTORY, Registry } from "./registry.js";
export type { FunctionVersion } from "./registry.js";
export type { LookupLimits } from "./lookups.js";
export { RecentRuns } from "./recent.js";
export type { FinishedRun, NameStats, RecentRunsOptions, SecondStats } from "./recent.js";

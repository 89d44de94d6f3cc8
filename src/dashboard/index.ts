/**
 * The web dashboard: nodes, executors per function, live call-rate and latency charts, recent
 * runs with their placement, and errors; routes under `/dashboard` of a scheduler's HTTP ingress,
 * behind a sign-in with the cluster token.
 *
 * @example
 * ```ts
 * import { Dashboard, LocalDashboardSource } from "./dashboard/index.js";
 * const source = new LocalDashboardSource({ membership, registry, recent: dispatcher.recent });
 * const routes = new Dashboard({ source, token });
 * ```
 */
export { COOKIE } from "./auth.js";
export { Dashboard } from "./server.js";
export type { DashboardOptions } from "./server.js";
export { LocalDashboardSource } from "./source.js";
export type {
  DashboardSource,
  DashboardState,
  FunctionView,
  LocalSourceParts,
  NodeView,
} from "./source.js";
export { MAX_LISTED, MAX_PAGE, MAX_STEPS, listKeys, scheduleViews } from "./views.js";
export type { FunctionDetail, KeyPage, KeyQuery, KeyView, LogLine, ScheduleView } from "./views.js";

/**
 * Observability that every role shares: lifecycle events as structured pino records.
 *
 * @example
 * ```ts
 * import { lifecycle } from "./observe/index.js";
 * lifecycle(log, "node.joined", { node: "n2", addr, executors: 4 }, "node n2 joined");
 * ```
 */
export { LIFECYCLE_EVENTS, OverloadLog, lifecycle } from "./events.js";
export type { LifecycleEvent } from "./events.js";
export { SpanKind, Tracing, isTraceparent } from "./tracing.js";
export type { Span, TracingOptions } from "./tracing.js";

/**
 * Processes: a listener plus the roles it runs (scheduler, node), over one store.
 *
 * @example
 * ```ts
 * import { StratusProcess } from "./cluster/index.js";
 * const p = await StratusProcess.start({ token: "t", executors: 2 });
 * ```
 */
export { metricsRegistry, serveMetrics } from "./metrics.js";
export type { MetricsServerOptions } from "./metrics.js";
export { StratusProcess, peerTlsOptions } from "./process.js";
export type { ProcessOptions } from "./process.js";
export { withStorePassword, withoutStorePassword } from "./store-address.js";

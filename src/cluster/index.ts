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
export { PROCESS_DEFAULTS, peerTlsOptions, resolveProcessOptions } from "./options.js";
export type { ProcessOptions, ProcessTls, ResolvedProcessOptions } from "./options.js";
export { StratusProcess } from "./process.js";
export { withStorePassword, withoutStorePassword } from "./store-address.js";

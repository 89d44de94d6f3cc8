/**
 * Autoscaling: the {@link Monitor} (one acts at a time, through a lease in the store) resizes
 * nodes' executors from their published statistics and adds or removes nodes through a
 * {@link NodeProvider}: {@link LocalNodeProvider} (processes on this machine) or
 * {@link KubernetesNodeProvider} (a Deployment's replicas).
 *
 * @example
 * ```ts
 * import { Monitor } from "./monitor/index.js";
 * const m = Monitor.start({ id, store, clock, resize }, { minExecutors: 1, maxExecutors: 64 });
 * ```
 */
export { KubernetesNodeProvider } from "./kubernetes-provider.js";
export type { KubernetesNodeProviderOptions } from "./kubernetes-provider.js";
export { LEASE_KEY, Lease } from "./lease.js";
export { LocalNodeProvider } from "./local-provider.js";
export type { LocalNodeProviderOptions } from "./local-provider.js";
export { Monitor } from "./monitor.js";
export type { MonitorDecision, MonitorDeps, ResizeNode } from "./monitor.js";
export { MONITOR_DEFAULTS, resolveMonitorOptions } from "./options.js";
export type { MonitorOptions, NodeScalingOptions, ResolvedMonitorOptions } from "./options.js";
export { executorTarget } from "./policy.js";
export type { NodeLoad, NodeMemory } from "./policy.js";
export type { NodeProvider } from "./provider.js";

import { InvalidArgumentError } from "../errors/index.js";
import type { NodeProvider } from "./provider.js";

/** Node scaling: how the monitor adds and removes whole nodes through a {@link NodeProvider}. */
export interface NodeScalingOptions {
  /** Starts and stops nodes (`LocalNodeProvider`, `KubernetesNodeProvider`). The monitor closes it. */
  provider: NodeProvider;
  /** Fewest nodes the provider keeps. @default 0 */
  minNodes?: number;
  /** Most nodes the provider runs. @default 4 */
  maxNodes?: number;
  /**
   * A node is added when every node has `maxExecutors` and is still over a scale-up threshold for
   * this long. @default 2000
   */
  saturatedForMs?: number;
  /** A provider node is removed after the cluster's utilisation stays below `scaleDownUtilisation` this long. @default 30000 */
  idleGraceMs?: number;
  /** Least time between two node changes (a new node takes seconds to join). @default 10000 */
  cooldownMs?: number;
}

/**
 * What the monitor does and when. Every field has a default; see {@link resolveMonitorOptions}.
 *
 * @example
 * ```ts
 * const o: MonitorOptions = { minExecutors: 1, maxExecutors: 64, idleGraceMs: 5000 };
 * ```
 */
export interface MonitorOptions {
  /** How often it decides. @default 500 */
  intervalMs?: number;
  /** How long its lease lasts unless renewed (it renews every round). @default 3000 */
  leaseMs?: number;
  /** Fewest executors per node. @default 1 */
  minExecutors?: number;
  /** Most executors per node. @default 32 */
  maxExecutors?: number;
  /** A node busier than this share of its executors' time is grown. @default 0.8 */
  scaleUpUtilisation?: number;
  /** A node whose median queueing delay over the last window passes this (ms) is grown. @default 20 */
  scaleUpQueueMs?: number;
  /** Executors are sized so that the calls on a node would keep this share of them busy. @default 0.75 */
  targetUtilisation?: number;
  /**
   * A node grows at most by this factor per decision (2: doubles). By default it grows at once to
   * what its calls need, and its pool paces the boots itself (`bootConcurrency`): measured under a
   * 1 -> 64 client step, that reached its peak sooner than doubling, which waits a round and a
   * whole batch of boots per step. @default Infinity
   */
  scaleUpFactor?: number;
  /** Executors are removed once fewer would have done for this long (ms). @default 10000 */
  idleGraceMs?: number;
  /** Below this utilisation the cluster counts as idle for node removal. @default 0.2 */
  scaleDownUtilisation?: number;
  /** Adds and removes nodes; off when absent. */
  nodes?: NodeScalingOptions;
}

/**
 * Defaults of the {@link MonitorOptions} that `stratus up --autoscale` exposes as flags (each
 * field is documented there), read by the CLI rather than restated.
 */
export const MONITOR_DEFAULTS = {
  minExecutors: 1,
  /** Or `minExecutors`, when that is larger. */
  maxExecutors: 32,
  scaleUpUtilisation: 0.8,
  scaleUpQueueMs: 20,
  idleGraceMs: 10_000,
  /** `nodes.minNodes` */
  minNodes: 0,
  /** `nodes.maxNodes`, or `nodes.minNodes` when that is larger. */
  maxNodes: 4,
} as const;

/** {@link MonitorOptions} with every default filled in. */
export interface ResolvedMonitorOptions {
  intervalMs: number;
  leaseMs: number;
  minExecutors: number;
  maxExecutors: number;
  scaleUpUtilisation: number;
  scaleUpQueueMs: number;
  targetUtilisation: number;
  scaleUpFactor: number;
  idleGraceMs: number;
  scaleDownUtilisation: number;
  nodes:
    | {
        provider: NodeProvider;
        minNodes: number;
        maxNodes: number;
        saturatedForMs: number;
        idleGraceMs: number;
        cooldownMs: number;
      }
    | undefined;
}

function num(field: string, v: number | undefined, d: number, min: number, max = Infinity): number {
  if (v === undefined) return d;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw InvalidArgumentError.field(`monitor.${field}`, `must be a number in [${min}, ${max}]`);
  }
  return v;
}

function int(field: string, v: number | undefined, d: number, min: number): number {
  const n = num(field, v, d, min);
  if (!Number.isInteger(n))
    throw InvalidArgumentError.field(`monitor.${field}`, "must be an integer");
  return n;
}

/** Fills in defaults and checks every field; throws `INVALID_ARGUMENT` naming the bad one. */
export function resolveMonitorOptions(o: MonitorOptions = {}): ResolvedMonitorOptions {
  const intervalMs = num("intervalMs", o.intervalMs, 500, 10);
  const minExecutors = int("minExecutors", o.minExecutors, MONITOR_DEFAULTS.minExecutors, 1);
  const maxExecutors = int(
    "maxExecutors",
    o.maxExecutors,
    Math.max(MONITOR_DEFAULTS.maxExecutors, minExecutors),
    1,
  );
  if (maxExecutors < minExecutors) {
    throw InvalidArgumentError.field("monitor.maxExecutors", "must be ≥ minExecutors");
  }
  const r: ResolvedMonitorOptions = {
    intervalMs,
    leaseMs: num("leaseMs", o.leaseMs, Math.max(3000, 3 * intervalMs), 2 * intervalMs),
    minExecutors,
    maxExecutors,
    scaleUpUtilisation: num(
      "scaleUpUtilisation",
      o.scaleUpUtilisation,
      MONITOR_DEFAULTS.scaleUpUtilisation,
      0.01,
      1,
    ),
    scaleUpQueueMs: num("scaleUpQueueMs", o.scaleUpQueueMs, MONITOR_DEFAULTS.scaleUpQueueMs, 0),
    targetUtilisation: num("targetUtilisation", o.targetUtilisation, 0.75, 0.01, 1),
    scaleUpFactor:
      o.scaleUpFactor === Infinity
        ? Infinity
        : num("scaleUpFactor", o.scaleUpFactor, Infinity, 1.01),
    idleGraceMs: num("idleGraceMs", o.idleGraceMs, MONITOR_DEFAULTS.idleGraceMs, 0),
    scaleDownUtilisation: num("scaleDownUtilisation", o.scaleDownUtilisation, 0.2, 0, 1),
    nodes: undefined,
  };
  const n = o.nodes;
  if (n !== undefined) {
    if (typeof n.provider?.scale !== "function") {
      throw InvalidArgumentError.field("monitor.nodes.provider", "must be a NodeProvider");
    }
    const minNodes = int("nodes.minNodes", n.minNodes, MONITOR_DEFAULTS.minNodes, 0);
    const maxNodes = int(
      "nodes.maxNodes",
      n.maxNodes,
      Math.max(MONITOR_DEFAULTS.maxNodes, minNodes),
      0,
    );
    if (maxNodes < minNodes)
      throw InvalidArgumentError.field("monitor.nodes.maxNodes", "must be ≥ minNodes");
    r.nodes = {
      provider: n.provider,
      minNodes,
      maxNodes,
      saturatedForMs: num("nodes.saturatedForMs", n.saturatedForMs, 2000, 0),
      idleGraceMs: num("nodes.idleGraceMs", n.idleGraceMs, 30_000, 0),
      cooldownMs: num("nodes.cooldownMs", n.cooldownMs, 10_000, 0),
    };
  }
  return r;
}

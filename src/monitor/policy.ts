import type { ResolvedMonitorOptions } from "./options.js";

/** What the executor policy sees of one node in one round. */
export interface NodeLoad {
  executors: number;
  /** Calls on the node: running, posted to a worker, or queued. */
  inflight: number;
  /** Share of executor time busy over the last window, 0…1. */
  utilisation: number;
  /** Median queueing delay over the last window, ms. */
  queueMs: number;
}

/** What the policy remembers of a node between rounds. */
export interface NodeMemory {
  /** When (ms, monotonic) fewer executors first would have done, and the most needed since. */
  lowSince?: number;
  lowNeed?: number;
}

/**
 * The executors a node should have: grown towards what its calls need at `targetUtilisation`,
 * by at most `scaleUpFactor` per round, when its utilisation or queueing delay passes a
 * threshold (or calls wait);
 * shrunk only after fewer would have done for `idleGraceMs`, to the most needed in that time.
 * Returns `undefined` to leave it as it is. Pure: `mem` is updated in place.
 *
 * @example
 * ```ts
 * executorTarget({ executors: 1, inflight: 64, utilisation: 1, queueMs: 300 }, {}, opts, now); // 64 (maxExecutors)
 * ```
 */
export function executorTarget(
  load: NodeLoad,
  mem: NodeMemory,
  o: ResolvedMonitorOptions,
  now: number,
): number | undefined {
  const clamp = (n: number): number => Math.min(o.maxExecutors, Math.max(o.minExecutors, n));
  const need = clamp(Math.ceil(load.inflight / o.targetUtilisation));
  const hot =
    load.utilisation >= o.scaleUpUtilisation ||
    load.queueMs >= o.scaleUpQueueMs ||
    load.inflight > load.executors;
  if (hot && need > load.executors) {
    delete mem.lowSince;
    delete mem.lowNeed;
    return Math.min(need, clamp(Math.ceil(load.executors * o.scaleUpFactor)));
  }
  if (load.executors < o.minExecutors) return o.minExecutors;
  if (need >= load.executors || hot) {
    delete mem.lowSince;
    delete mem.lowNeed;
    return load.executors > o.maxExecutors ? o.maxExecutors : undefined;
  }
  if (mem.lowSince === undefined) {
    mem.lowSince = now;
    mem.lowNeed = need;
    return undefined;
  }
  mem.lowNeed = Math.max(mem.lowNeed ?? need, need);
  if (now - mem.lowSince < o.idleGraceMs) return undefined;
  const target = mem.lowNeed;
  delete mem.lowSince;
  delete mem.lowNeed;
  return target < load.executors ? target : undefined;
}

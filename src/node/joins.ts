import { MAX_TIMINGS } from "../protocol/index.js";
import type { FnTiming, RunMeta, ScheduledFn } from "../protocol/index.js";

interface Join {
  values: Map<string, Uint8Array>;
  metas: Map<string, RunMeta>;
  /** What ran upstream, as each arrival said (for the run's waterfall). */
  timings: FnTiming[];
  fired: boolean;
  expires: number;
}

/** A function's arguments in incoming-edge order, and the run metadata each upstream carried. */
export interface Arrived {
  args: Uint8Array[];
  metas: RunMeta[];
  /** The timings every arrival carried, once each. */
  timings: FnTiming[];
}

/**
 * Gathers the upstream results of a function with several incoming edges until all are in (or
 * the first, for `anyOf`), and hands back its arguments in incoming-edge order. Entries of runs
 * that never complete expire at the run's deadline.
 */
export class Joins {
  private readonly joins = new Map<string, Join>();
  private arrivals = 0;

  /** Records one upstream result; returns the arguments once the function may fire. */
  arrive(
    meta: RunMeta,
    fn: string,
    me: ScheduledFn,
    from: string,
    value: Uint8Array,
    timings: readonly FnTiming[] = [],
  ): Arrived | undefined {
    if (me.prev.length <= 1) return { args: [value], metas: [meta], timings: [...timings] };
    const key = `${meta.run}/${meta.attempt}/${fn}`;
    let j = this.joins.get(key);
    if (j === undefined) {
      if (++this.arrivals % 1024 === 0) this.sweep();
      j = {
        values: new Map(),
        metas: new Map(),
        timings: [],
        fired: false,
        expires: meta.deadline,
      };
      this.joins.set(key, j);
    }
    if (j.fired) return undefined;
    if (me.anyOf === true) {
      j.fired = true;
      j.values.clear();
      j.metas.clear();
      return { args: [value], metas: [meta], timings: [...timings] };
    }
    j.values.set(from, value);
    j.metas.set(from, meta);
    // Upstreams that share an ancestor both carry its timing: keep one of each.
    for (const t of timings) {
      const dup = j.timings.some((u) => u.fn === t.fn && u.node === t.node && u.s === t.s);
      if (!dup && j.timings.length < MAX_TIMINGS) j.timings.push(t);
    }
    if (j.values.size < me.prev.length) return undefined;
    this.joins.delete(key);
    return {
      args: me.prev.map((p) => j.values.get(p) as Uint8Array),
      metas: me.prev.map((p) => j.metas.get(p) as RunMeta),
      timings: j.timings,
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, j] of this.joins) if (j.expires < now) this.joins.delete(k);
  }
}

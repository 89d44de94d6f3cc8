import type { RunMeta, ScheduledFn } from "../scheduler/index.js";

interface Join {
  values: Map<string, Uint8Array>;
  fired: boolean;
  expires: number;
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
  ): Uint8Array[] | undefined {
    if (me.prev.length <= 1) return [value];
    const key = `${meta.run}/${meta.attempt}/${fn}`;
    let j = this.joins.get(key);
    if (j === undefined) {
      if (++this.arrivals % 1024 === 0) this.sweep();
      j = { values: new Map(), fired: false, expires: meta.deadline };
      this.joins.set(key, j);
    }
    if (j.fired) return undefined;
    if (me.anyOf === true) {
      j.fired = true;
      j.values.clear();
      return [value];
    }
    j.values.set(from, value);
    if (j.values.size < me.prev.length) return undefined;
    this.joins.delete(key);
    return me.prev.map((p) => j.values.get(p) as Uint8Array);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, j] of this.joins) if (j.expires < now) this.joins.delete(k);
  }
}

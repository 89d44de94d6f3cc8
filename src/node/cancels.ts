/**
 * Cancels on a node: which invocations run each function of each run attempt here, and which of
 * those functions were cancelled (by an `anyOf` function that fired on another upstream's
 * result), so that a cancelled invocation stops and a late trigger of it is ignored.
 */
import { CancelledError } from "../errors/index.js";
import type { Cancel, RunMeta } from "../protocol/index.js";

/** What {@link Cancels} stops invocations with: the executor pool. */
export interface Interruptible {
  /** Stops invocation `id` with `err`; false when it was not there to stop. */
  cancel(id: string, err: Error): boolean;
}

/** Invocations cancelled (running or queued) and triggers ignored as cancelled. */
export interface CancelCounts {
  received: number;
  interrupted: number;
  ignored: number;
}

/**
 * Cancelled functions are remembered until their run's deadline; past this many, the expired
 * ones are swept, and a cancel that still finds no room is dropped (its invocation runs on, as
 * it would have without the cancel).
 */
const MAX_CANCELLED = 10_000;

/** Identifies one function of one attempt of a run. */
export function runKey(meta: Pick<RunMeta, "run" | "attempt">, fn: string): string {
  return `${meta.run}/${meta.attempt}/${fn}`;
}

/**
 * The node's cancel bookkeeping.
 *
 * @example
 * ```ts
 * const cancels = new Cancels(pool);
 * const keys = cancels.track(meta, ["f"], ["n1.0"]);
 * cancels.onCancel({ run: meta.run, attempt: 0, fn: "f", deadline }); // interrupts n1.0
 * cancels.untrack(keys, ["n1.0"]);
 * ```
 */
export class Cancels {
  /** Invocation ids by `run/attempt/fn`, while they are queued or running here. */
  private readonly running = new Map<string, string[]>();
  /** Cancelled `run/attempt/fn`s, until their run's deadline: their triggers are ignored. */
  private readonly cancelled = new Map<string, number>();
  readonly counts: CancelCounts = { received: 0, interrupted: 0, ignored: 0 };

  constructor(private readonly pool: Interruptible) {}

  /** True when function `fn` of this run attempt was cancelled here. */
  has(meta: Pick<RunMeta, "run" | "attempt">, fn: string): boolean {
    return this.cancelled.has(runKey(meta, fn));
  }

  /** True when any of these `runKey`s was cancelled. */
  any(keys: readonly string[]): boolean {
    return keys.some((k) => this.cancelled.has(k));
  }

  /** Notes that invocations `ids` run functions `fns` of this attempt; returns their keys. */
  track(meta: Pick<RunMeta, "run" | "attempt">, fns: readonly string[], ids: string[]): string[] {
    const keys = fns.map((fn) => runKey(meta, fn));
    keys.forEach((k, i) => this.running.set(k, [...(this.running.get(k) ?? []), ids[i] as string]));
    return keys;
  }

  /** Forgets invocations `ids` (settled), tracked under `keys`. */
  untrack(keys: readonly string[], ids: readonly string[]): void {
    keys.forEach((k, i) => {
      const left = (this.running.get(k) ?? []).filter((id) => id !== ids[i]);
      if (left.length === 0) this.running.delete(k);
      else this.running.set(k, left);
    });
  }

  /**
   * A cancel from the node where an anyOf function fired: the invocation of `c.fn` here stops
   * (running: its `ctx.signal` is aborted; queued: dropped) and its later trigger is ignored.
   */
  onCancel(c: Cancel): void {
    this.counts.received++;
    const key = runKey(c, c.fn);
    if (this.cancelled.size >= MAX_CANCELLED) {
      const now = Date.now();
      for (const [k, until] of this.cancelled) if (until < now) this.cancelled.delete(k);
      if (this.cancelled.size >= MAX_CANCELLED) return;
    }
    this.cancelled.set(key, c.deadline);
    const err = new CancelledError(`${c.fn} was cancelled: another upstream answered first`);
    for (const id of this.running.get(key) ?? []) {
      if (this.pool.cancel(id, err)) this.counts.interrupted++;
    }
  }
}

import type { Histogram } from "hdr-histogram-js";
import { encodeHistogram, latencyHistogram, recordMs } from "./histogram.js";
import type { FnWindow } from "./record.js";

interface Entry {
  calls: number;
  errors: number;
  /** Of those calls, the ones that ran as a stage of a DAG of several functions. */
  stages: number;
  /** Calls and errors since the last window was taken. */
  wCalls: number;
  wErrors: number;
  /** Since the last window: total latency and queueing delay. */
  lat: Histogram;
  queue: Histogram;
  /** Since start: total latency, and its encoding as of `encodedAt` calls. */
  all: Histogram;
  allEncoded: string;
  encodedAt: number;
}

/** Where calls of functions beyond `maxFunctions` are counted. */
export const OTHER_FUNCTIONS = "(other)";

/**
 * Per-function counters and latency histograms of one process, cheap on the hot path: `record`
 * finds the function's entry in a map, bumps counters and records into preallocated histograms.
 * {@link StatsRecorder.window} takes what happened since the previous window, for a snapshot.
 *
 * @example
 * ```ts
 * const r = new StatsRecorder();
 * r.record("inc", 0.2, 1.5, true); // queued 0.2 ms, 1.5 ms from queued to settled
 * r.window(); // { inc: { c: 1, e: 0, wc: 1, we: 0, l: "HISTF…", q: "HISTF…", a: "HISTF…" } }
 * ```
 */
export class StatsRecorder {
  private readonly fns = new Map<string, Entry>();

  /** @param maxFunctions functions tracked by name; calls of any further ones count as `(other)`. */
  constructor(private readonly maxFunctions = 256) {}

  /** One settled call: ms it waited for an executor, ms from queued to settled, and its outcome. */
  record(fn: string, queueMs: number, totalMs: number, ok: boolean): void {
    const e = this.entry(fn);
    e.calls++;
    e.wCalls++;
    if (!ok) {
      e.errors++;
      e.wErrors++;
    }
    recordMs(e.lat, totalMs);
    recordMs(e.queue, queueMs);
    recordMs(e.all, totalMs);
  }

  /**
   * One settled invocation of `fn` ran as a stage of a DAG of several functions. Called after
   * {@link record} for the same invocation, so a snapshot never shows more stage runs than calls.
   */
  stage(fn: string): void {
    this.entry(fn).stages++;
  }

  /** Totals since start, by function (for Prometheus). */
  totals(): IterableIterator<[string, { calls: number; errors: number; all: Histogram }]> {
    return this.fns.entries();
  }

  /**
   * Every function's totals and what happened since the previous call (histograms as compressed
   * base64); the window's counters and histograms start again from zero.
   */
  window(): Record<string, FnWindow> {
    const out: Record<string, FnWindow> = {};
    for (const [fn, e] of this.fns) {
      const w: FnWindow = { c: e.calls, e: e.errors, wc: e.wCalls, we: e.wErrors };
      if (e.stages > 0) w.d = e.stages;
      if (e.wCalls > 0) {
        w.l = encodeHistogram(e.lat);
        w.q = encodeHistogram(e.queue);
        e.lat.reset();
        e.queue.reset();
      }
      if (e.encodedAt !== e.calls) {
        e.allEncoded = encodeHistogram(e.all);
        e.encodedAt = e.calls;
      }
      if (e.calls > 0) w.a = e.allEncoded;
      e.wCalls = 0;
      e.wErrors = 0;
      out[fn] = w;
    }
    return out;
  }

  private entry(fn: string): Entry {
    const e = this.fns.get(fn);
    if (e !== undefined) return e;
    const name = this.fns.size >= this.maxFunctions - 1 ? OTHER_FUNCTIONS : fn;
    const found = this.fns.get(name);
    if (found !== undefined) return found;
    const fresh: Entry = {
      calls: 0,
      errors: 0,
      stages: 0,
      wCalls: 0,
      wErrors: 0,
      lat: latencyHistogram(),
      queue: latencyHistogram(),
      all: latencyHistogram(),
      allEncoded: "",
      encodedAt: 0,
    };
    this.fns.set(name, fresh);
    return fresh;
  }
}

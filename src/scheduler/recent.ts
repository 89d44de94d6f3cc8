import type { Consistency, FnTiming } from "../protocol/index.js";

/** One finished run, as this scheduler's dispatcher saw it. */
export interface FinishedRun {
  /** Run id (the same across retries). */
  run: string;
  /** DAG name; a single call is the DAG of one function, named after it. */
  name: string;
  /** Whether it was a single function call or a DAG run. */
  kind: "call" | "dag";
  /** Epoch ms when it started. */
  startedAt: number;
  /** Milliseconds from start to answer. */
  ms: number;
  ok: boolean;
  /** Attempts made: 1 unless a lost node made it retry. */
  attempts: number;
  /** The consistency level it ran at. @default "lww" when not recorded */
  consistency?: Consistency;
  /** Function name to the id of the node it ran on (last attempt). */
  placed: Record<string, string>;
  /**
   * When and where each function ran, as the nodes reported back with the answer (the attempt
   * that answered; functions cut short by a failure may be missing). Empty when none came back.
   */
  timings?: FnTiming[];
  /** Error code, message and stack (the user code's, when it threw) of a failed run. */
  error?: { code: string; message: string; stack?: string };
}

/** Calls, errors and latency of one name over one second. */
export interface SecondStats {
  /** Epoch second. */
  t: number;
  calls: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Per-name totals and recent rates, as {@link RecentRuns.names} reports them. */
export interface NameStats {
  name: string;
  kind: "call" | "dag";
  calls: number;
  errors: number;
  /** Calls per second over the last `rateWindowS` complete seconds. */
  callsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Options of {@link RecentRuns}. */
export interface RecentRunsOptions {
  /** Finished runs kept, newest first. @default 200 */
  keep?: number;
  /** Seconds of per-second series kept. @default 120 */
  seconds?: number;
  /** Latency samples kept per name per second (for percentiles). @default 256 */
  samplesPerSecond?: number;
  /** Seconds over which `callsPerSec` and percentiles are computed. @default 10 */
  rateWindowS?: number;
  /** Names tracked at once; the least recently used is dropped past it. @default 1000 */
  maxNames?: number;
  /** Clock (epoch ms); for tests. @default Date.now */
  now?: () => number;
}

interface Bucket {
  t: number;
  calls: number;
  errors: number;
  samples: number[];
}

interface Track {
  kind: "call" | "dag";
  calls: number;
  errors: number;
  buckets: Bucket[];
}

/**
 * A bounded memory of what one scheduler ran: the last finished runs with their placement and
 * errors, and per-name calls, errors and latency by second. It is what the dashboard shows until
 * statistics kept in the store replace it; every part of it is bounded (runs, seconds, samples
 * per second, names), so it costs the same after a week as after a minute.
 *
 * @example
 * ```ts
 * const recent = new RecentRuns({ keep: 100 });
 * recent.record({ run: "r1", name: "inc", kind: "call", startedAt: Date.now(), ms: 1.2, ok: true,
 *   attempts: 1, placed: { inc: "n-1" } });
 * recent.runs(); // [{ run: "r1", … }]
 * ```
 */
export class RecentRuns {
  private readonly ring: FinishedRun[] = [];
  /** Failed runs on their own, so a stream of successes does not push them out. */
  private readonly failures: FinishedRun[] = [];
  /** Runs of each function as a stage of a DAG (not as a call of its own). */
  private readonly stages = new Map<string, number>();
  private readonly tracks = new Map<string, Track>();
  private readonly o: Required<RecentRunsOptions>;

  constructor(options: RecentRunsOptions = {}) {
    this.o = {
      keep: options.keep ?? 200,
      seconds: options.seconds ?? 120,
      samplesPerSecond: options.samplesPerSecond ?? 256,
      rateWindowS: options.rateWindowS ?? 10,
      maxNames: options.maxNames ?? 1000,
      now: options.now ?? Date.now,
    };
  }

  /** Notes one finished run. */
  record(r: FinishedRun): void {
    this.ring.unshift(r);
    if (this.ring.length > this.o.keep) this.ring.length = this.o.keep;
    if (!r.ok) {
      this.failures.unshift(r);
      if (this.failures.length > this.o.keep) this.failures.length = this.o.keep;
    }
    if (r.kind === "dag") {
      for (const fn of Object.keys(r.placed)) {
        const n = this.stages.get(fn) ?? 0;
        this.stages.delete(fn);
        if (n === 0 && this.stages.size >= this.o.maxNames) {
          const oldest = this.stages.keys().next();
          if (oldest.done !== true) this.stages.delete(oldest.value);
        }
        this.stages.set(fn, n + 1);
      }
    }
    let track = this.tracks.get(r.name);
    if (track === undefined) {
      track = { kind: r.kind, calls: 0, errors: 0, buckets: [] };
      if (this.tracks.size >= this.o.maxNames) {
        const oldest = this.tracks.keys().next();
        if (oldest.done !== true) this.tracks.delete(oldest.value);
      }
    } else {
      this.tracks.delete(r.name); // re-inserted below: the map's order is recency of use
    }
    this.tracks.set(r.name, track);
    track.calls++;
    if (!r.ok) track.errors++;
    const t = Math.floor(this.o.now() / 1000);
    let b = track.buckets[track.buckets.length - 1];
    if (b === undefined || b.t !== t) {
      b = { t, calls: 0, errors: 0, samples: [] };
      track.buckets.push(b);
      const oldest = t - this.o.seconds;
      while ((track.buckets[0]?.t ?? t) <= oldest) track.buckets.shift();
    }
    b.calls++;
    if (!r.ok) b.errors++;
    // Reservoir sampling keeps a fair sample of the second's latencies in bounded memory.
    if (b.samples.length < this.o.samplesPerSecond) b.samples.push(r.ms);
    else {
      const i = Math.floor(Math.random() * b.calls);
      if (i < this.o.samplesPerSecond) b.samples[i] = r.ms;
    }
  }

  /** Finished runs, newest first. */
  runs(): FinishedRun[] {
    return [...this.ring];
  }

  /** Failed runs, newest first. */
  errors(): FinishedRun[] {
    return [...this.failures];
  }

  /** How many DAG runs had `fn` as a stage. */
  stageRuns(fn: string): number {
    return this.stages.get(fn) ?? 0;
  }

  /** Totals and recent rates per name, most recently used first. */
  names(): NameStats[] {
    const now = Math.floor(this.o.now() / 1000);
    const from = now - this.o.rateWindowS;
    return [...this.tracks.entries()].reverse().map(([name, tr]) => {
      const window = tr.buckets.filter((b) => b.t >= from && b.t < now);
      const calls = window.reduce((s, b) => s + b.calls, 0);
      const [p50Ms, p99Ms] = percentiles(window.flatMap((b) => b.samples));
      return {
        name,
        kind: tr.kind,
        calls: tr.calls,
        errors: tr.errors,
        callsPerSec: calls / this.o.rateWindowS,
        p50Ms,
        p99Ms,
      };
    });
  }

  /** Every name's runs added up per second, oldest first, over the kept seconds (gaps as 0). */
  series(): SecondStats[] {
    const now = Math.floor(this.o.now() / 1000);
    const out: SecondStats[] = [];
    for (let t = now - this.o.seconds + 1; t <= now; t++) {
      out.push({ t, calls: 0, errors: 0, p50Ms: null, p99Ms: null });
    }
    const samples = new Map<number, number[]>();
    for (const tr of this.tracks.values()) {
      for (const b of tr.buckets) {
        const s = out[b.t - (now - this.o.seconds + 1)];
        if (s === undefined) continue;
        s.calls += b.calls;
        s.errors += b.errors;
        const list = samples.get(b.t) ?? [];
        list.push(...b.samples);
        samples.set(b.t, list);
      }
    }
    for (const s of out) {
      [s.p50Ms, s.p99Ms] = percentiles(samples.get(s.t) ?? []);
    }
    return out;
  }
}

function percentiles(xs: number[]): [number | null, number | null] {
  if (xs.length === 0) return [null, null];
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return [at(0.5), at(0.99)];
}

import { InvalidArgumentError } from "../errors/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import { STATS_PREFIX } from "./record.js";
import type { NodeFigures, StatsRecord } from "./record.js";
import type { StatsRecorder } from "./recorder.js";

/** A node's figures as read at one instant (utilisation and window rates are derived). */
export interface NodeSample {
  executors: number;
  busy: number;
  inflight: number;
  hits: number;
  misses: number;
  cacheKeys: number;
  cacheBytes: number;
  addr: string;
}

/** Options of {@link StatsPublisher}. */
export interface StatsPublisherOptions {
  /** This process's id: the record is `sys/stats/<id>`. */
  id: string;
  store: Store;
  clock: HybridClock;
  /** Invocations of this process's node. */
  exec?: StatsRecorder;
  /** Runs this process's scheduler answered. */
  callers?: StatsRecorder;
  /** Reads this process's node's load, when it runs one. */
  node?: () => NodeSample;
  /** How often a snapshot is written. @default 500 */
  intervalMs?: number;
  /** How often the node's busy executors are sampled for utilisation. @default 50 */
  sampleMs?: number;
  /** A record not rewritten for this long is deleted by the store. @default max(5000, 10 × intervalMs) */
  ttlMs?: number;
}

/** {@link StatsPublisherOptions} resolved: every default filled in, once. */
interface Resolved {
  intervalMs: number;
  sampleMs: number;
  ttlMs: number;
}

function resolve(o: StatsPublisherOptions): Resolved {
  const pos = (field: string, v: number | undefined, d: number): number => {
    if (v === undefined) return d;
    if (!Number.isFinite(v) || v <= 0) throw InvalidArgumentError.field(field, "must be > 0");
    return v;
  };
  const intervalMs = pos("stats.intervalMs", o.intervalMs, 500);
  return {
    intervalMs,
    sampleMs: pos("stats.sampleMs", o.sampleMs, 50),
    ttlMs: pos("stats.ttlMs", o.ttlMs, Math.max(5000, 10 * intervalMs)),
  };
}

/**
 * Writes this process's statistics to the store every `intervalMs` as one bounded, expiring
 * record (`sys/stats/<id>`): per-function counters and the window's latency histograms, and the
 * node's utilisation (busy executors sampled every `sampleMs`), in-flight calls and cache figures.
 * {@link readClusterStats} merges every process's record.
 *
 * @example
 * ```ts
 * const pub = StatsPublisher.start({ id, store, clock, exec, node: () => sample() });
 * await pub.close(); // deletes the record
 * ```
 */
export class StatsPublisher {
  private readonly r: Resolved;
  private readonly key: string;
  private timers: NodeJS.Timeout[] = [];
  private windowStart = performance.now();
  private busySum = 0;
  private capSum = 0;
  private lastHits = 0;
  private lastMisses = 0;
  private publishing: Promise<void> | undefined;
  private last: StatsRecord | undefined;
  private closed = false;
  /** Snapshots written, and writes that failed (the store was unavailable). */
  readonly counts = { written: 0, failed: 0 };

  private constructor(private readonly o: StatsPublisherOptions) {
    this.r = resolve(o);
    this.key = STATS_PREFIX + o.id;
  }

  static start(o: StatsPublisherOptions): StatsPublisher {
    const p = new StatsPublisher(o);
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      p.timers.push(t);
    };
    if (o.node !== undefined) every(p.r.sampleMs, () => p.sample());
    every(p.r.intervalMs, () => void p.publish());
    return p;
  }

  /** The record written last (this process's own view, for `/metrics`). */
  latest(): StatsRecord | undefined {
    return this.last;
  }

  /** Takes a snapshot and writes it now; one write at a time. */
  publish(): Promise<void> {
    this.publishing ??= this.write().finally(() => (this.publishing = undefined));
    return this.publishing;
  }

  private sample(): void {
    const s = this.o.node?.();
    if (s === undefined || s.executors <= 0) return;
    this.busySum += Math.min(s.busy, s.executors);
    this.capSum += s.executors;
  }

  private snapshot(): StatsRecord {
    const now = performance.now();
    const rec: StatsRecord = {
      v: 1,
      id: this.o.id,
      at: Date.now(),
      ms: Math.max(1, Math.round(now - this.windowStart)),
    };
    this.windowStart = now;
    if (this.o.exec !== undefined) rec.exec = this.o.exec.window();
    if (this.o.callers !== undefined) rec.callers = this.o.callers.window();
    const s = this.o.node?.();
    if (s !== undefined) {
      if (this.capSum === 0) this.sample();
      const node: NodeFigures = {
        executors: s.executors,
        busy: s.busy,
        inflight: s.inflight,
        utilisation: this.capSum > 0 ? this.busySum / this.capSum : 0,
        hits: s.hits,
        misses: s.misses,
        wHits: Math.max(0, s.hits - this.lastHits),
        wMisses: Math.max(0, s.misses - this.lastMisses),
        cacheKeys: s.cacheKeys,
        cacheBytes: s.cacheBytes,
        addr: s.addr,
      };
      this.lastHits = s.hits;
      this.lastMisses = s.misses;
      this.busySum = 0;
      this.capSum = 0;
      rec.node = node;
    }
    return rec;
  }

  private async write(): Promise<void> {
    if (this.closed) return;
    const rec = this.snapshot();
    this.last = rec;
    try {
      await this.o.store.put(this.key, LwwLattice.of(rec, this.o.clock.now()));
      // A rewrite may clear the expiry on some backends: set it again every time, so the record
      // of a process that died goes away on its own.
      await this.o.store.expire(this.key, this.r.ttlMs);
      this.counts.written++;
    } catch {
      this.counts.failed++;
    }
  }

  /** Stops publishing and deletes this process's record. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.publishing;
    await this.o.store.delete(this.key).catch(() => undefined);
  }
}

import type { Histogram } from "hdr-histogram-js";
import { LwwLattice } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import type { DepartedTotals, Totals } from "./departed.js";
import { addEncoded, latencyHistogram, percentileMs } from "./histogram.js";
import { STATS_PREFIX, parseStatsRecord } from "./record.js";
import type { FnWindow, StatsRecord } from "./record.js";

/** One function cluster-wide. Latencies in ms; rates over the processes' last windows. */
export interface FunctionStats {
  /** Invocations per second over the last window, summed over nodes. */
  callsPerSec: number;
  /**
   * Latency as callers see it (from the schedulers that answered single calls of it; else from
   * the nodes: queued to settled), over the last window, or since start when it was idle.
   */
  p50Ms: number;
  p99Ms: number;
  /** Median time an invocation waited for an executor, over the last window. */
  queueMsP50: number;
  /**
   * Invocations that failed, and all invocations: every time a node ran the function (single
   * calls, DAG stages, nested calls, retried attempts), since the cluster's nodes started,
   * departed nodes included when the read is given their {@link DepartedTotals}.
   */
  errors: number;
  calls: number;
  /** Of `calls`, those that ran as a stage of a DAG of several functions; never above `calls`. */
  inDags: number;
  /** Same as p99 of the queueing delay. */
  queueMsP99: number;
}

/** One DAG (or single call) as its callers saw it, from the schedulers' records. */
export interface RunStats {
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  calls: number;
}

/** One node. */
export interface NodeStats {
  /** Executor workers it is sized for, and those running calls now. */
  executors: number;
  busy: number;
  /** Share of executor time busy over the last window, 0…1. */
  utilisation: number;
  /** Cache hits / (hits + misses) over the last window, or since start when it had no reads. */
  cacheHitRate: number;
  cacheBytes: number;
  cacheKeys: number;
  /** Calls on the node now: running, posted to a worker, or queued. */
  inflight: number;
  /** Address peers reach it at. */
  addr: string;
  /** Age of its record, ms. */
  ageMs: number;
}

/** The whole cluster's statistics, merged from every process's record. */
export interface ClusterStats {
  /** When they were read (epoch ms). */
  at: number;
  functions: Record<string, FunctionStats>;
  nodes: Record<string, NodeStats>;
  /** Runs as callers saw them, by DAG name (a single call's is its function's name). */
  runs: Record<string, RunStats>;
}

/** Options of {@link readClusterStats}. */
export interface ReadStatsOptions {
  /**
   * A record older than this is left out of rates (its process stopped publishing; it expires
   * from the store soon). @default 5000
   */
  staleMs?: number;
  /**
   * Counts of processes gone since earlier reads: given, this read updates it and adds them back,
   * so totals never go backwards when a node dies. @default none (live records only)
   */
  departed?: DepartedTotals;
}

interface Acc {
  rate: number;
  calls: number;
  errors: number;
  stages: number;
  win: Histogram | undefined;
  all: Histogram | undefined;
  queue: Histogram | undefined;
}

const lazy = (h: Histogram | undefined): Histogram => h ?? latencyHistogram();

function accumulate(
  into: Map<string, Acc>,
  fns: Record<string, FnWindow>,
  rec: StatsRecord,
  fresh: boolean,
): void {
  for (const [fn, w] of Object.entries(fns)) {
    const a = accFor(into, fn);
    a.calls += w.c;
    a.errors += w.e;
    a.stages += w.d ?? 0;
    if (fresh) a.rate += (w.wc * 1000) / rec.ms;
    if (fresh && w.l !== undefined) addEncoded((a.win = lazy(a.win)), w.l);
    if (fresh && w.q !== undefined) addEncoded((a.queue = lazy(a.queue)), w.q);
    if (w.a !== undefined) addEncoded((a.all = lazy(a.all)), w.a);
  }
}

/** The window's percentile, or the all-time one when the window saw no calls. */
function pct(a: Acc, p: number): number {
  if (a.win !== undefined && a.win.totalCount > 0) return percentileMs(a.win, p);
  return a.all === undefined ? 0 : percentileMs(a.all, p);
}

const round = (v: number, digits = 3): number => Number(v.toFixed(digits));

/** A process's record and its age when read. */
export interface AgedRecord {
  rec: StatsRecord;
  /** ms since it was taken (by the writer's wall clock). */
  ageMs: number;
}

/** Every process's statistics record with exactly the expected shape (others are skipped). */
export async function readStatsRecords(store: Store): Promise<AgedRecord[]> {
  const keys: string[] = [];
  for await (const k of store.scan(STATS_PREFIX)) {
    keys.push(k);
    if (keys.length >= 100_000) break;
  }
  const values = keys.length === 0 ? [] : await store.getMany(keys);
  const now = Date.now();
  const out: AgedRecord[] = [];
  for (const v of values) {
    if (!(v instanceof LwwLattice)) continue;
    let rec: StatsRecord | undefined;
    try {
      rec = parseStatsRecord(v.value());
    } catch {
      continue;
    }
    if (rec !== undefined) out.push({ rec, ageMs: Math.max(0, now - rec.at) });
  }
  return out;
}

/**
 * Reads every process's statistics record (`sys/stats/*`) and merges them: per function calls/s,
 * latency percentiles, queueing delay and errors; per node utilisation, cache hit rate and bytes.
 * Records of another shape are skipped.
 *
 * @example
 * ```ts
 * const s = await readClusterStats(store);
 * s.functions.inc?.callsPerSec; s.nodes["n-1"]?.utilisation;
 * ```
 */
export async function readClusterStats(
  store: Store,
  options: ReadStatsOptions = {},
): Promise<ClusterStats> {
  const staleMs = options.staleMs ?? 5000;
  const records = await readStatsRecords(store);
  const now = Date.now();
  const exec = new Map<string, Acc>();
  const callers = new Map<string, Acc>();
  const out: ClusterStats = { at: now, functions: {}, nodes: {}, runs: {} };
  const { departed } = options;
  if (departed !== undefined) {
    departed.update(records.map((r) => r.rec));
    floor(exec, departed.execFloor());
    floor(callers, departed.callersFloor());
  }
  for (const { rec, ageMs: age } of records) {
    const fresh = age <= staleMs;
    if (rec.exec !== undefined) accumulate(exec, rec.exec, rec, fresh);
    if (rec.callers !== undefined) accumulate(callers, rec.callers, rec, fresh);
    const n = rec.node;
    if (n !== undefined) {
      const reads = n.wHits + n.wMisses;
      const allReads = n.hits + n.misses;
      out.nodes[rec.id] = {
        executors: n.executors,
        busy: n.busy,
        utilisation: round(Math.min(1, n.utilisation)),
        cacheHitRate: round(reads > 0 ? n.wHits / reads : allReads > 0 ? n.hits / allReads : 0),
        cacheBytes: n.cacheBytes,
        cacheKeys: n.cacheKeys,
        inflight: n.inflight,
        addr: n.addr,
        ageMs: age,
      };
    }
  }
  for (const [name, a] of callers) {
    out.runs[name] = {
      callsPerSec: round(a.rate, 2),
      p50Ms: round(pct(a, 50)),
      p99Ms: round(pct(a, 99)),
      errors: a.errors,
      calls: a.calls,
    };
  }
  for (const [fn, a] of exec) {
    // Latency as callers see it when schedulers answered single calls of fn.
    const seen = callers.get(fn);
    const lat = seen !== undefined && seen.calls > 0 ? seen : a;
    out.functions[fn] = {
      callsPerSec: round(a.rate, 2),
      p50Ms: round(pct(lat, 50)),
      p99Ms: round(pct(lat, 99)),
      queueMsP50: round(a.queue === undefined ? 0 : percentileMs(a.queue, 50)),
      queueMsP99: round(a.queue === undefined ? 0 : percentileMs(a.queue, 99)),
      errors: a.errors,
      calls: a.calls,
      inDags: a.stages,
    };
  }
  return out;
}

/** The accumulator of `name`, made empty on first use. */
function accFor(into: Map<string, Acc>, name: string): Acc {
  let a = into.get(name);
  if (a === undefined) {
    a = {
      rate: 0,
      calls: 0,
      errors: 0,
      stages: 0,
      win: undefined,
      all: undefined,
      queue: undefined,
    };
    into.set(name, a);
  }
  return a;
}

/** Adds departed processes' counts to the live ones (names only they had included). */
function floor(into: Map<string, Acc>, floors: ReadonlyMap<string, Totals>): void {
  for (const [name, t] of floors) {
    const a = accFor(into, name);
    a.calls += t.c;
    a.errors += t.e;
    a.stages += t.d;
  }
}

/** The median queueing delay (ms) over every function of one record's window; 0 without calls. */
export function windowQueueMs(fns: Record<string, FnWindow> | undefined, percentile = 50): number {
  if (fns === undefined) return 0;
  let h: Histogram | undefined;
  for (const w of Object.values(fns)) if (w.q !== undefined) addEncoded((h = lazy(h)), w.q);
  return h === undefined ? 0 : percentileMs(h, percentile);
}

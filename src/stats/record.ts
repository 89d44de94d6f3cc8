/**
 * The snapshot every process publishes under `sys/stats/<process id>`, and its validation: records
 * are written by other processes, so the reader takes only what has exactly the expected shape.
 */

/** Where snapshots live, one key per process. */
export const STATS_PREFIX = "sys/stats/";

/** One function in one process's snapshot (compact keys: it is written every interval). */
export interface FnWindow {
  /** Calls and errors since the process started. */
  c: number;
  e: number;
  /** Of the calls, those run as a stage of a DAG of several functions (absent: none). */
  d?: number;
  /** Calls and errors in the window. */
  wc: number;
  we: number;
  /** The window's latency and queueing-delay histograms (µs, compressed base64), when wc > 0. */
  l?: string;
  q?: string;
  /** Latency since start (µs, compressed base64), when c > 0. */
  a?: string;
}

/** A node's load and cache figures in one snapshot. */
export interface NodeFigures {
  /**
   * Executor workers it is sized for, and how many executors' worth of calls run now (each call
   * counts 1 / its function's concurrency).
   */
  executors: number;
  busy: number;
  /** Calls on the node now (running, posted to a worker, or queued for one), counted as `busy`. */
  inflight: number;
  /** Share of executor time busy over the window, 0…1 (sampled). */
  utilisation: number;
  /** Cache hits and misses since start, and in the window. */
  hits: number;
  misses: number;
  wHits: number;
  wMisses: number;
  cacheKeys: number;
  cacheBytes: number;
  /** Address peers reach the node at. */
  addr: string;
}

/** What one process publishes. */
export interface StatsRecord {
  v: 1;
  id: string;
  /** When it was taken (epoch ms) and the window's length (ms). */
  at: number;
  ms: number;
  /** Invocations this process's node ran, by function. */
  exec?: Record<string, FnWindow>;
  /** Runs this process's scheduler answered, by DAG name (a single call's is its function's). */
  callers?: Record<string, FnWindow>;
  node?: NodeFigures;
}

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const nonNeg = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const b64 = (v: unknown): boolean =>
  v === undefined || (typeof v === "string" && v.length <= 1 << 20);

/** Only the record's own keys, none unknown. */
function keysWithin(o: Rec, allowed: readonly string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k));
}

const FN_KEYS = ["c", "e", "d", "wc", "we", "l", "q", "a"] as const;
const NODE_KEYS = [
  "executors",
  "busy",
  "inflight",
  "utilisation",
  "hits",
  "misses",
  "wHits",
  "wMisses",
  "cacheKeys",
  "cacheBytes",
  "addr",
] as const;

function isFnWindow(v: unknown): v is FnWindow {
  if (!isObj(v) || !keysWithin(v, FN_KEYS)) return false;
  const d = v.d === undefined || (count(v.d) && count(v.c) && v.d <= v.c);
  return (
    count(v.c) && count(v.e) && d && count(v.wc) && count(v.we) && b64(v.l) && b64(v.q) && b64(v.a)
  );
}

function isFnMap(v: unknown): v is Record<string, FnWindow> {
  if (!isObj(v)) return false;
  const keys = Object.keys(v);
  return keys.length <= 10_000 && keys.every((k) => k.length <= 256 && isFnWindow(v[k]));
}

function isNode(v: unknown): v is NodeFigures {
  if (!isObj(v) || !keysWithin(v, NODE_KEYS)) return false;
  return (
    NODE_KEYS.every((k) => Object.hasOwn(v, k)) &&
    NODE_KEYS.every((k) => k === "addr" || nonNeg(v[k])) &&
    typeof v.addr === "string" &&
    v.addr.length <= 1024
  );
}

/** The record if `v` has exactly its shape, else undefined. */
export function parseStatsRecord(v: unknown): StatsRecord | undefined {
  if (!isObj(v) || !keysWithin(v, ["v", "id", "at", "ms", "exec", "callers", "node"])) {
    return undefined;
  }
  if (v.v !== 1 || typeof v.id !== "string" || v.id.length === 0 || v.id.length > 256) {
    return undefined;
  }
  if (!nonNeg(v.at) || !nonNeg(v.ms)) return undefined;
  if (v.exec !== undefined && !isFnMap(v.exec)) return undefined;
  if (v.callers !== undefined && !isFnMap(v.callers)) return undefined;
  if (v.node !== undefined && !isNode(v.node)) return undefined;
  return v as unknown as StatsRecord;
}

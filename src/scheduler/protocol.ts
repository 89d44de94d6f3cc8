import type { WireError } from "../errors/index.js";
import { USER_PREFIX } from "../state/index.js";

/**
 * The messages processes exchange, by method name. Requests answer; notifications (`trigger`,
 * `result`, `fnmsg`) do not, so a DAG's hops cost one frame each. User values are `Uint8Array`s
 * holding the value codec's bytes: only the executor that runs a function decodes them.
 */

/** Where the sink of a run sends its result: the gateway's address and its pending-call id. */
export interface ReplyTo {
  addr: string;
  req: number;
}

/** Consistency levels; only `lww` today, the others land with the consistency subsystem. */
export type Consistency = "lww";

/**
 * Per-run metadata carried by every trigger. `session` is opaque to today's nodes and passed
 * along untouched: repeatable-read snapshots, causal dependencies and transaction ids go there.
 */
export interface RunMeta {
  run: string;
  attempt: number;
  dag?: string;
  consistency: Consistency;
  /** Epoch ms after which nodes drop the run instead of executing it. */
  deadline: number;
  reply: ReplyTo;
  session: Record<string, unknown>;
}

/** One function's place in a run: which node runs it and what it feeds. */
export interface ScheduledFn {
  node: string;
  /** Node address (`stratus://host:port`) so executors can reach it without a lookup. */
  addr: string;
  /** Downstream function names. */
  next: string[];
  /** Upstream function names in incoming-edge order (their results become arguments). */
  prev: string[];
  anyOf?: boolean;
}

/** A trigger: run `fn` of `meta.run` once its inputs are in. */
export interface Trigger {
  meta: RunMeta;
  schedule: Record<string, ScheduledFn>;
  fn: string;
  /** Arguments given by the caller (sources), encoded. */
  args?: Uint8Array[];
  /** A result arriving from upstream function `from`. */
  from?: string;
  value?: Uint8Array;
}

/** The sink's answer to the gateway. */
export interface RunResult {
  run: string;
  attempt: number;
  req: number;
  ok: boolean;
  v?: Uint8Array;
  e?: WireError;
  /** Which node ran each function, for status and tests. */
  placed?: Record<string, string>;
}

/** A direct message between running functions. */
export interface FnMessage {
  to: string;
  from: string;
  payload: Uint8Array;
}

/** How a function ships. */
export interface FunctionDef {
  name: string;
  kind: "source" | "module";
  source: string;
  exportName?: string;
  init?: string;
  timeoutMs?: number;
  version: string;
}

/** A registered DAG. */
export interface DagDef {
  name: string;
  functions: string[];
  edges: [string, string][];
  anyOf: string[];
}

/** Options of one call or DAG run. */
export interface CallOptions {
  timeoutMs?: number;
  future?: boolean;
  consistency?: Consistency;
}

/** What a node announces in its heartbeat. */
export interface NodeInfo {
  id: string;
  addr: string;
  executors: number;
  busy: number;
  queued: number;
  /** Bytes cached per key, largest first (bounded list). */
  cached: [string, number][];
  startedAt: number;
}

/** Storage key namespaces. */
export const KEYS = {
  user: USER_PREFIX,
  fn: "sys/fn/",
  dag: "sys/dag/",
  node: "sys/node/",
  future: "sys/fut/",
} as const;

// Shape checks for what arrives over the wire. Peers are authenticated, but a bug or a version
// skew must cost one dropped message, never an exception in the node's event loop.

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
const isStrList = (x: unknown): x is string[] =>
  Array.isArray(x) && x.every((s) => typeof s === "string");

function isMeta(m: unknown): m is RunMeta {
  return (
    isObj(m) &&
    typeof m.run === "string" &&
    typeof m.attempt === "number" &&
    typeof m.deadline === "number" &&
    isObj(m.reply) &&
    typeof m.reply.addr === "string" &&
    typeof m.reply.req === "number" &&
    isObj(m.session)
  );
}

function isSchedule(s: unknown): s is Record<string, ScheduledFn> {
  if (!isObj(s)) return false;
  return Object.values(s).every(
    (f) =>
      isObj(f) &&
      typeof f.node === "string" &&
      typeof f.addr === "string" &&
      isStrList(f.next) &&
      isStrList(f.prev) &&
      f.next.every((n) => n in s),
  );
}

/** True when `t` is a well-formed trigger. */
export function isTrigger(t: unknown): t is Trigger {
  return (
    isObj(t) &&
    typeof t.fn === "string" &&
    isMeta(t.meta) &&
    isSchedule(t.schedule) &&
    t.fn in t.schedule &&
    (t.args === undefined || (Array.isArray(t.args) && t.args.every(isBytes))) &&
    (t.from === undefined || typeof t.from === "string") &&
    (t.value === undefined || isBytes(t.value))
  );
}

/** True when `r` is a well-formed run result. */
export function isRunResult(r: unknown): r is RunResult {
  return (
    isObj(r) &&
    typeof r.run === "string" &&
    typeof r.attempt === "number" &&
    typeof r.req === "number" &&
    typeof r.ok === "boolean" &&
    (r.v === undefined || isBytes(r.v))
  );
}

/** True when `m` is a well-formed function message. */
export function isFnMessage(m: unknown): m is FnMessage {
  return isObj(m) && typeof m.to === "string" && typeof m.from === "string" && isBytes(m.payload);
}

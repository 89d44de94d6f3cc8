/**
 * The messages processes exchange, by method name. Requests answer; notifications (`trigger`,
 * `result`, `fnmsg`) do not, so a DAG's hops cost one frame each. User values are `Uint8Array`s
 * holding the value codec's bytes: only the executor that runs a function decodes them.
 */
import type { WireError } from "../errors/index.js";
import { USER_PREFIX } from "../state/index.js";
import {
  anything,
  bool,
  bytes,
  exact,
  finite,
  int,
  isWireErrorShape,
  listOf,
  nonEmptyStr,
  own,
  recordOf,
} from "./shape.js";
import type { Check } from "./shape.js";
import type { SessionSlots } from "./session.js";

/** Where the sink of a run sends its result: the gateway's address and its pending-call id. */
export interface ReplyTo {
  addr: string;
  req: number;
}

/**
 * Consistency levels of a run (docs/architecture.md, "Consistency levels"). Each is a session
 * policy on the nodes (`src/consistency`, `src/txn`); a level is accepted from callers only once
 * it is in {@link CONSISTENCY_LEVELS}.
 */
export type Consistency =
  "lww" | "repeatable-read" | "causal" | "transactional-causal" | "read-atomic";

/** The levels callers may ask for. */
export const CONSISTENCY_LEVELS: readonly Consistency[] = [
  "lww",
  "repeatable-read",
  "causal",
  "transactional-causal",
  "read-atomic",
];

const ALL_LEVELS: ReadonlySet<string> = new Set<Consistency>([
  "lww",
  "repeatable-read",
  "causal",
  "transactional-causal",
  "read-atomic",
]);

/** True when `c` names a consistency level callers may ask for. */
export function isConsistency(c: unknown): c is Consistency {
  return typeof c === "string" && (CONSISTENCY_LEVELS as readonly string[]).includes(c);
}

/**
 * Per-run metadata carried by every trigger. `session` holds what the run's level carries from
 * node to node (repeatable-read snapshots, causal dependencies, the transaction), slot by slot:
 * see session.ts.
 */
export interface RunMeta {
  run: string;
  attempt: number;
  dag?: string;
  consistency: Consistency;
  /** Epoch ms after which nodes drop the run instead of executing it. */
  deadline: number;
  reply: ReplyTo;
  session: SessionSlots;
  /**
   * The run's home: the node of its first source, set by the dispatcher when it places the run.
   * Levels that keep one snapshot per run (read-atomic) serve every read of the run there.
   */
  home?: RunHome;
  /**
   * W3C `traceparent` of the run's gateway span, when the scheduler traces: each node's
   * invocation spans name it as their parent, so a run is one trace across nodes.
   */
  tp?: string;
}

/** A node by id and address. */
export interface RunHome {
  node: string;
  addr: string;
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

/**
 * When one function of a run ran, and where: from the node handing it to its executors (queueing
 * included) to its settling, in epoch ms of that node's clock. For the dashboard's waterfall.
 */
export interface FnTiming {
  fn: string;
  node: string;
  /** Handed to the executors, and settled (epoch ms). */
  s: number;
  e: number;
  ok: boolean;
}

/** Most timings a trigger or result carries: one per function of the largest DAG. */
export const MAX_TIMINGS = 4096;

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
  /** Functions of the run that ran upstream of this trigger, with when and where. */
  timings?: FnTiming[];
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
  /** When and where each function that ran on the way to this answer ran. */
  timings?: FnTiming[];
}

/**
 * Cancels function `fn` of a run: sent by the node where an `anyOf` function fired on its first
 * upstream result to the nodes of its other upstreams, so their invocations stop occupying
 * executors (a running one is interrupted, a queued one dropped, a later trigger ignored).
 */
export interface Cancel {
  run: string;
  attempt: number;
  fn: string;
  /** The run's deadline: how long the receiver remembers the cancellation. */
  deadline: number;
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
  /** Invocations one executor runs at once (see `RegisterOptions.concurrency`). */
  concurrency?: number;
  version: string;
  /** The JSON Schemas of its arguments and result, when it was registered with schemas. */
  schema?: FunctionSchema;
}

/**
 * A function's JSON Schemas, as registered with `register(name, fn, { input, output })`: `input`
 * describes the argument list (an array, one item per parameter after the ctx), `output` the
 * result. Each is present only when its validator could describe itself as JSON Schema. For
 * documents such as OpenAPI; nothing in the cluster validates against them.
 *
 * @example
 * ```ts
 * const schema: FunctionSchema = {
 *   input: { type: "array", prefixItems: [{ type: "number" }], minItems: 1, maxItems: 1 },
 *   output: { type: "number" },
 * };
 * ```
 */
export interface FunctionSchema {
  /** JSON Schema (draft 2020-12, as OpenAPI 3.1 uses; an object or a boolean). */
  input?: unknown;
  output?: unknown;
}

/** A registered DAG. */
export interface DagDef {
  name: string;
  functions: string[];
  edges: [string, string][];
  anyOf: string[];
  /** The level runs of this DAG use when the caller names none. */
  consistency?: Consistency;
}

/**
 * The deadline of a run (a call or a DAG) whose caller gives none, in ms. Client, dispatcher and
 * HTTP ingress all read it from here.
 */
export const DEFAULT_RUN_TIMEOUT_MS = 120_000;

/** The largest `concurrency` a function may register with (each node also clamps to its cap). */
export const MAX_CONCURRENCY = 1024;

/** How long a reader of a future waits for its result when it names no limit: as long as a run. */
export const DEFAULT_FUTURE_WAIT_MS = DEFAULT_RUN_TIMEOUT_MS;

/**
 * How much longer a client waits for an answer than the deadline it asked the cluster for, so
 * that the cluster's own `TIMEOUT` (with its reason) arrives before the request's.
 */
export const REPLY_SLACK_MS = 5_000;

/** Options of one call or DAG run. */
export interface RunRequestOptions {
  /** Deadline of the run. @default {@link DEFAULT_RUN_TIMEOUT_MS} */
  timeoutMs?: number;
  future?: boolean;
  consistency?: Consistency;
  /**
   * The caller's id of this logical request, the same on each of its retries: a read-atomic run
   * derives its transaction id from it, so a retry finds the first attempt's commit.
   */
  requestId?: string;
  /**
   * Set by the client on its retries of `requestId` (not on the first send): a read-atomic run
   * fences earlier attempts only when one may exist, so a first attempt starts without a store
   * round trip (src/txn/service.ts argues why that is safe).
   */
  retry?: boolean;
  /** W3C `traceparent` of the caller's span: the run's trace continues the caller's. */
  traceparent?: string;
}

/** What a node announces in its heartbeat. */
export interface NodeInfo {
  id: string;
  addr: string;
  executors: number;
  /**
   * Executors' worth of calls running or posted to them: each call counts 1 / its function's
   * concurrency, so `busy / executors` is the share of the node's capacity in use.
   */
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

// Shape checks for what arrives over the wire (see shape.ts). Peers are authenticated, but a
// bug, a version skew or a hostile token holder must cost one dropped message, never an exception
// in the node's event loop.

const name = nonEmptyStr(256);
const id = nonEmptyStr();

const isReply = exact({ addr: nonEmptyStr(), req: int(0, Number.MAX_SAFE_INTEGER) });

/**
 * The session is the extension point of the consistency levels, so its keys are not fixed; it
 * must still be a plain, bounded object, and the keys nodes read are checked.
 */
function isSession(s: unknown): s is RunMeta["session"] {
  if (!recordOf(anything, 64)(s)) return false;
  const future = own(s, "future");
  return future === undefined || id(future);
}

const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Whether `v` is a W3C `traceparent` of version 00 with non-zero ids (what the HTTP ingress,
 * the SDK and run metadata accept).
 *
 * @example
 * ```ts
 * isTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); // true
 * isTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"); // false
 * ```
 */
export const isTraceparent: Check<string> = (v): v is string =>
  typeof v === "string" && TRACEPARENT.test(v);

const isConsistencyOnWire: Check<Consistency> = (c): c is Consistency =>
  typeof c === "string" && ALL_LEVELS.has(c);

const isMeta: Check<RunMeta> = exact(
  {
    run: id,
    attempt: int(0, 1_000_000),
    consistency: isConsistencyOnWire,
    deadline: finite,
    reply: isReply,
    session: isSession,
  },
  { dag: name, home: exact({ node: id, addr: nonEmptyStr() }), tp: isTraceparent },
);

const isScheduledFn: Check<ScheduledFn> = exact(
  { node: id, addr: nonEmptyStr(), next: listOf(name, 4096), prev: listOf(name, 4096) },
  { anyOf: bool },
);

function isSchedule(s: unknown): s is Record<string, ScheduledFn> {
  if (!recordOf(isScheduledFn, 4096)(s)) return false;
  return Object.values(s).every(
    (f) => f.next.every((n) => Object.hasOwn(s, n)) && f.prev.every((n) => Object.hasOwn(s, n)),
  );
}

const isFnTiming: Check<FnTiming> = exact({
  fn: name,
  node: id,
  s: finite,
  e: finite,
  ok: bool,
});
const isTimings = listOf(isFnTiming, MAX_TIMINGS);

const isTriggerShape: Check<Trigger> = exact(
  { meta: isMeta, schedule: isSchedule, fn: name },
  { args: listOf(bytes), from: name, value: bytes, timings: isTimings },
);

/** True when `t` is a well-formed trigger: exact shape, and `fn` (and `from`) in its schedule. */
export function isTrigger(t: unknown): t is Trigger {
  if (!isTriggerShape(t)) return false;
  const { schedule, fn, from } = t;
  return Object.hasOwn(schedule, fn) && (from === undefined || Object.hasOwn(schedule, from));
}

const isRunResultShape: Check<RunResult> = exact(
  { run: id, attempt: int(0, 1_000_000), req: int(0, Number.MAX_SAFE_INTEGER), ok: bool },
  { v: bytes, e: isWireErrorShape, placed: recordOf(id, 4096), timings: isTimings },
);

/** True when `r` is a well-formed run result (an error result carries its error). */
export function isRunResult(r: unknown): r is RunResult {
  return isRunResultShape(r) && (r.ok || r.e !== undefined);
}

/** True when `c` is a well-formed cancel message. */
export const isCancel: Check<Cancel> = exact({
  run: id,
  attempt: int(0, 1_000_000),
  fn: name,
  deadline: finite,
});

/** True when `m` is a well-formed function message. */
export const isFnMessage: Check<FnMessage> = exact({ to: id, from: id, payload: bytes });

/** The gateway's push of a future's outcome to the client that started the run. */
export interface FuturePush {
  id: string;
  ok: boolean;
  v?: Uint8Array;
  e?: WireError;
}

const isFuturePushShape: Check<FuturePush> = exact(
  { id, ok: bool },
  { v: bytes, e: isWireErrorShape },
);

/** True when `f` is a well-formed future push (what clients accept as the `future` message). */
export function isFuturePush(f: unknown): f is FuturePush {
  return isFuturePushShape(f) && (f.ok || f.e !== undefined);
}

/**
 * Between nodes, for the session levels that pin versions (repeatable-read, transactional-causal):
 * `consistency.fetch` (a request) asks the node that pinned `key` for run `pin` for that exact
 * version, answered with the encoded lattice or null when the pin is gone;
 * `consistency.release` (a notification) drops every pin of `pin`.
 */
export interface PinFetch {
  pin: string;
  key: string;
}

export interface PinRelease {
  pin: string;
}

/** The methods of {@link PinFetch} and {@link PinRelease}. */
export const PIN_METHODS = { fetch: "consistency.fetch", release: "consistency.release" } as const;

export const isPinFetch: Check<PinFetch> = exact({ pin: id, key: nonEmptyStr(2048) });

export const isPinRelease: Check<PinRelease> = exact({ pin: id });

/**
 * Between nodes, for read-atomic runs: every read of a run goes to its home node, which keeps the
 * run's snapshot. `txn.home.read` (a request) reads key `k` in snapshot `s` (`<tid>.<epoch>`,
 * started at `st`, kept until `d`, having answered `n` reads on the asker's path), answered with
 * the encoded lattice or null; `txn.home.release` (a notification) drops snapshot `s` once the
 * run committed or failed.
 */
export interface HomeRead {
  s: string;
  k: string;
  st: string;
  d: number;
  n: number;
}

export interface HomeRelease {
  s: string;
}

/** The methods of {@link HomeRead} and {@link HomeRelease}. */
export const HOME_METHODS = { read: "txn.home.read", release: "txn.home.release" } as const;

export const isHomeRead: Check<HomeRead> = exact({
  s: nonEmptyStr(200),
  k: nonEmptyStr(2048),
  st: nonEmptyStr(32),
  d: finite,
  n: int(0, 1_000_000),
});

export const isHomeRelease: Check<HomeRelease> = exact({ s: nonEmptyStr(200) });

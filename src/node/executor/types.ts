/**
 * Shapes shared by the pool (main thread) and the worker entry: the pool's options, the
 * invocation model and the private message protocol between them. The ctx users program against
 * is src/function's.
 */
import type { MessagePort } from "node:worker_threads";
import type { WireError } from "../../errors/index.js";
import type { HostArgs, HostHandler, HostOp } from "./host-calls.js";

/** The code of one function version, as registered. */
export interface FunctionCode {
  /** Function name; used in error messages and, with `version`, as the compile-cache key. */
  name: string;
  /** Registration version; a new version is compiled (and initialised) afresh in every worker. */
  version: string;
  /**
   * `"source"`: `source` is the `toString()` of a function (arrow, `function`, async, or method
   * shorthand `inc(ctx, x) { … }`). `"module"`: `source` is a CommonJS bundle (esbuild output) and
   * the function is `module.exports[exportName]`.
   */
  kind: "source" | "module";
  source: string;
  /** Module mode only; defaults to `module.exports` itself when that is a function, else `default`. */
  exportName?: string;
  /** Source of an init function `(ctx) => state`, run once per worker per version (both modes). */
  init?: string;
  /**
   * Time limit of one invocation in milliseconds: a finite number > 0, the pool's
   * `defaultTimeoutMs` when absent, and never more than the pool's `maxTimeoutMs` (clamped).
   */
  timeoutMs?: number;
  /**
   * How many invocations of this function one worker runs at once while they await (storage,
   * messages, timers): an integer ≥ 1, the pool's `defaultConcurrency` when absent, never more
   * than its `maxConcurrency` (clamped). 1: each invocation has its worker to itself.
   */
  concurrency?: number;
}

/** One call to run. */
export interface Invocation {
  /** Unique invocation id; returned by `ctx.id()` and given to host calls. */
  id: string;
  code: FunctionCode;
  /** Arguments, each encoded with `encodeValue`; a decoded `{ $stratusRef: key }` is resolved first. */
  args: Uint8Array[];
  /** Opaque run metadata, handed to the host callback untouched. */
  run?: unknown;
  /**
   * When the caller stops waiting (`Date.now()` milliseconds). An invocation still queued then is
   * not started and fails with `TIMEOUT`; nested calls get what is left of it.
   */
  deadline?: number;
  /** Called when a worker starts it (tracing records the wait); must not throw. */
  started?: () => void;
  /**
   * Its run buffers writes until it ends (`RunSession.buffersWrites`): the worker does not wait
   * for the host to take a `put`, `merge` or `delete`, and one the host refuses fails the
   * invocation. Saves a thread round trip per write. @default false
   */
  writesBuffered?: boolean;
}

/** Options of the executor pool (`new ExecutorPool(options)`). */
export interface ExecutorPoolOptions {
  /** Number of worker threads. */
  size: number;
  /** Performs the ctx's host calls (storage, messaging, nested calls) for user code. */
  host: HostHandler;
  /** Per-worker V8 limits; a worker that exceeds the heap limit fails its call with FUNCTION_OOM. */
  resourceLimits?: {
    maxOldGenerationSizeMb?: number;
    maxYoungGenerationSizeMb?: number;
    stackSizeMb?: number;
  };
  /**
   * Bytes outside the JS heap (Buffers, ArrayBuffers, typed arrays) user code may hold in one
   * worker, in MiB; a worker over it fails its call with FUNCTION_OOM and is replaced. Default:
   * the heap limit (`resourceLimits.maxOldGenerationSizeMb`, 512).
   */
  maxExternalMemoryMb?: number;
  /** Time limit of calls whose code sets none. Default 60 000 ms (or `maxTimeoutMs`, if lower). */
  defaultTimeoutMs?: number;
  /**
   * The operator's cap on any invocation's time limit: a function's own `timeoutMs` above it is
   * clamped to it. Default 900 000 ms (15 minutes, as on AWS Lambda).
   */
  maxTimeoutMs?: number;
  /**
   * Workers the pool may add while all of its workers wait on nested calls (`ctx.call`), so that
   * callees never wait for a slot their callers hold. Retired once idle. Default max(8, 2 × size).
   */
  maxExtraWorkers?: number;
  /**
   * How long a cancelled (or timed-out) invocation's function may take to settle once its
   * `ctx.signal` is aborted; past that its worker is terminated and replaced. Default 1000 ms.
   */
  cancelGraceMs?: number;
  /** Calls handed to one worker ahead of its current one. Default 4. */
  pipelineDepth?: number;
  /**
   * Workers that boot at once when the pool grows (`resize`); the rest start as those become
   * ready, so capacity arrives steadily. Default: the machine's cores, at least 2.
   */
  bootConcurrency?: number;
  /**
   * Bytes of stored values each worker keeps (by key and version) so that a hot `ctx.get` or
   * reference moves no bytes between threads. 0 disables it. Default 128 MiB.
   */
  valueCacheBytes?: number;
  /** Told of every settled invocation (for statistics). Default: none. */
  observe?: InvocationObserver;
  /**
   * Concurrency of functions whose code sets none ({@link FunctionCode.concurrency}).
   * Default 8 (or `maxConcurrency`, if lower).
   */
  defaultConcurrency?: number;
  /**
   * The most invocations one worker runs at once; a function asking for more is clamped to it.
   * The memory limits (`resourceLimits.maxOldGenerationSizeMb`, `maxExternalMemoryMb`) stay per
   * invocation: a worker's V8 heap limit is the per-invocation one times this, and its
   * external-memory limit that times the invocations running (see memory.ts). Default 16.
   */
  maxConcurrency?: number;
  /** Told of every `console.*` line user code writes. Default: the lines are dropped. */
  onLog?: WorkerLogObserver;
}

/** A `console.*` line from user code, as the pool hands it on. */
export interface WorkerLogLine {
  level: ConsoleLevel;
  message: string;
  /** The invocation that wrote it, and its function; absent for a line written outside any. */
  inv?: string;
  fn?: string;
  /** The invocation's opaque run metadata, while the pool still holds the invocation. */
  run?: unknown;
}

/** Told of every line user code writes to its console; must be cheap and must not throw. */
export type WorkerLogObserver = (line: WorkerLogLine) => void;

/**
 * Told of every settled invocation: its function, how long it waited for a worker and how long it
 * took from being queued to settling (both in ms), and whether it returned. Called on the hot
 * path: it must be cheap and must not throw.
 */
export type InvocationObserver = (
  fn: string,
  queueMs: number,
  totalMs: number,
  ok: boolean,
) => void;

/** Options of `ExecutorPool.invokeChain`. */
export interface ChainOptions {
  /**
   * Resolve every call's promise with its result. False: only the last call's; the others
   * resolve with empty bytes, as their results stay in the worker for the next call.
   * @default true
   */
  intermediate?: boolean;
}

/** A snapshot of the pool's load. */
export interface ExecutorPoolStats {
  /** Target number of workers. */
  size: number;
  /** Worker threads alive now: `size`, plus any lent to nested calls, plus any still starting. */
  workers: number;
  /** Workers with at least one call posted. */
  busy: number;
  /**
   * The executors' share that is in use, in executors: each running or posted call counts
   * 1 / its concurrency (a call of a `concurrency: 8` function takes an eighth of a worker).
   * What autoscaling compares with `size`.
   */
  load: number;
  /** Like `load`, for the calls waiting in the pool queue. */
  queuedLoad: number;
  /** Workers started and not yet ready to run code. */
  booting: number;
  /** Calls waiting in the pool queue (not yet handed to a worker). */
  queued: number;
  /** Calls handed to workers and not yet settled (running, or posted behind a running one). */
  posted: number;
  /** Calls settled (returned or failed) since the pool was created. */
  completed: number;
}

/** Cache key of one function version. NUL cannot appear in either part's meaning. */
export function codeKey(code: FunctionCode): string {
  return `${code.name}\u0000${code.version}`;
}

// ---- main thread → worker: always an array of these, so one postMessage carries a batch ----

/** Run an invocation; `c` is present the first time this worker sees the version `k`. */
export interface RunMsg {
  t: "inv";
  id: string;
  k: string;
  c?: FunctionCode;
  a: Uint8Array[];
  /** The invocation (earlier in this worker's queue) whose result is this one's first argument. */
  u?: string;
  /** Keep this invocation's result for the one that follows it in a chain. */
  keep?: true;
  /** With `keep`: answer with empty bytes, since nobody outside the worker reads this result. */
  drop?: true;
  /** Deadline (`Date.now()` ms): not started after it. */
  d?: number;
  /** Its function's concurrency; absent: 1. */
  n?: number;
  /** Its writes are buffered by its run: told to the host without waiting for an answer. */
  w?: true;
}

/** Answer to a host call. */
export interface HostReplyMsg {
  t: "res";
  seq: number;
  ok: boolean;
  v?: unknown;
  e?: WireError;
}

/** A message for a running (or queued) invocation, pushed so `ctx.recv` needs no round trip. */
export interface MailMsg {
  t: "mail";
  inv: string;
  m: Uint8Array;
  /** Sending invocation and its per-recipient sequence number, when sent from this node. */
  f?: string;
  s?: number;
}

/** Invocation `inv` runs on the worker numbered `slot`: later messages to it may go direct. */
export interface RouteMsg {
  t: "route";
  inv: string;
  slot: number;
}

/** A port to the worker numbered `slot` (or, with no port, that worker is gone). */
export interface PeerMsg {
  t: "peer";
  slot: number;
  port?: MessagePort;
}

/** Stop invocation `inv` (running: abort its signal; posted, not started: do not run it). */
export interface AbortMsg {
  t: "abort";
  inv: string;
  /** The error's code and message: `signal.reason`, and the answer of an item never started. */
  code: "CANCELLED" | "FUNCTION_TIMEOUT" | "TIMEOUT";
  why: string;
}

/**
 * Stop when what is in flight allows: the worker runs its before-exit hooks (see
 * {@link BEFORE_EXIT}), then exits. The pool terminates it if it has not exited in time.
 */
export interface ExitMsg {
  t: "exit";
}

export type DownMsg = RunMsg | HostReplyMsg | MailMsg | RouteMsg | PeerMsg | AbortMsg | ExitMsg;

/**
 * Where code running in a worker (each function bundle has its own copy of a library, so a module
 * variable would not do) registers what must happen before the worker exits: a `Set` of
 * functions on `globalThis` under this registered symbol. Native add-ons need it: onnxruntime
 * aborts the whole process when its worker is terminated with an inference in flight or a
 * session still open, so the ML runtime waits for its runs and releases its sessions here.
 */
export const BEFORE_EXIT = Symbol.for("stratus.worker.beforeExit");

// ---- worker → main thread: every message names its invocation ----

export interface ReadyMsg {
  t: "ready";
}
/** Invocation `inv` returned `v` (encoded). */
export interface OkMsg {
  t: "ok";
  inv: string;
  v: Uint8Array;
}
/** Invocation `inv` failed. */
export interface ErrMsg {
  t: "err";
  inv: string;
  e: WireError;
}
/**
 * A host call (see host-calls.ts). `seq` 0: nobody waits for the answer (`send`, and with `d` a
 * write of an invocation whose writes its run buffers: one the host refuses fails the
 * invocation). The pool checks `a` before the host sees it: the worker runs user code.
 */
export interface HostCallMsg<Op extends HostOp = HostOp> {
  t: "host";
  inv: string;
  seq: number;
  op: Op;
  a: HostArgs<Op>;
  d?: 1;
}

/** Longest console line kept, in UTF-16 units: a huge `console.log(buffer)` costs one bounded line. */
export const MAX_LOG_LINE = 8192;

/** A console method's level, as function logs keep it. */
export type ConsoleLevel = "debug" | "info" | "warn" | "error";

/**
 * A `console.*` line written in the worker; `inv` and `fn`: the invocation whose async context
 * wrote it (absent outside any). Nobody answers it.
 */
export interface LogMsg {
  t: "log";
  l: ConsoleLevel;
  m: string;
  inv?: string;
  fn?: string;
}

export type UpMsg = OkMsg | ReadyMsg | ErrMsg | HostCallMsg | LogMsg;

/**
 * Whether an invocation posted to a worker starts now, the one rule the worker follows and the
 * pool mirrors (so both know what runs without asking each other). Invocations are looked at in
 * the order they were posted: `"wait"` (a chained call whose upstream has not finished: it holds
 * no slot and nothing behind it waits for it), `"start"`, or `"full"` (it and everything after
 * it wait). `blocked`: its upstream is still in the worker; `c`: its concurrency; `running`: how
 * many run; `limit`: the least concurrency among them (Infinity when none runs).
 */
export function mayStart(
  blocked: boolean,
  c: number,
  running: number,
  limit: number,
): "start" | "wait" | "full" {
  if (blocked) return "wait";
  return running < Math.min(c, limit) ? "start" : "full";
}

/**
 * Returns bytes that own their buffer. `postMessage` clones a view's whole ArrayBuffer, and
 * msgpackr (and frame decoders) hand out small views of large shared buffers. For big values use
 * `ownValueBytes` and transfer the result instead: one copy instead of a copy and a clone.
 */
export function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

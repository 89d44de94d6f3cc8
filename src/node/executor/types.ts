/**
 * Shapes shared by the pool (main thread) and the worker entry: the public call types and the
 * private message protocol between them.
 */
import type { ClientTransactions } from "../../txn/handle.js";
import type { MessagePort } from "node:worker_threads";
import type { WireError } from "../../errors/index.js";
import type { Lattice, Lattices } from "../../lattice/index.js";

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
}

/** Operations user code asks of the node through its ctx. */
export type HostOp =
  "get" | "getLattice" | "put" | "merge" | "delete" | "send" | "call" | "runId" | "txn";

/** The invocation a host call comes from. */
export interface HostInvocation {
  id: string;
  run?: unknown;
  /** Function name. */
  fn: string;
  /**
   * When the invocation's result stops mattering (`Date.now()` milliseconds): the sooner of its
   * deadline and the end of its time limit. Nested calls must finish by then.
   */
  deadline: number;
  /**
   * Given with `call` ops: aborted when the invocation is cancelled or times out, so the node
   * cancels the nested runs it started for it (their own `ctx.signal`s abort in turn).
   */
  signal?: AbortSignal;
}

/**
 * The node's side of the ctx: performs one host call for user code. See the index module for the
 * argument and result shapes of each op. A thrown StratusError reaches user code with its code.
 */
export type HostHandler = (op: HostOp, args: unknown[], inv: HostInvocation) => Promise<unknown>;

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
}

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
  /** Workers started and not yet ready to run code. */
  booting: number;
  /** Calls waiting in the pool queue (not yet handed to a worker). */
  queued: number;
  /** Calls handed to workers and not yet settled (running, or posted behind a running one). */
  posted: number;
  /** Calls settled (returned or failed) since the pool was created. */
  completed: number;
}

/** What user functions receive as their first argument. */
export interface FunctionContext {
  /** The invocation id. */
  id(): string;
  /**
   * The id of the logical request this invocation belongs to, the same on every retry of it (in
   * a `read-atomic` run, its transaction id, derived from the caller's request id): the
   * idempotency key for effects outside Stratus.
   */
  runId(): Promise<string>;
  /** The result of the function's `init`, or `undefined` when it has none. */
  readonly state: unknown;
  /**
   * Aborted when the invocation is cancelled (a competing replica answered first, its caller
   * gave up) or reaches its time limit; `signal.reason` is then a `StratusError` with code
   * `CANCELLED` or `FUNCTION_TIMEOUT`. The caller has its answer at once; the function should
   * stop soon after: a worker whose function has not settled `cancelGraceMs` (1 s) later is
   * terminated and replaced. Host calls (`get`, `put`, `send`, `call`…) of a cancelled
   * invocation fail, so its late writes never land, and `recv` rejects.
   *
   * @example
   * ```ts
   * async (ctx, url) => (await fetch(url, { signal: ctx.signal })).text();
   * async (ctx) => {
   *   for (const item of work) { ctx.signal.throwIfAborted(); step(item); }
   * };
   * ```
   */
  readonly signal: AbortSignal;
  /**
   * Reads a key's plain value (a counter's number, a set's array, a map's object of plain
   * values); `undefined` when absent.
   */
  get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined>;
  /** Reads the lattice a key holds (e.g. a counter's per-writer totals); `undefined` when absent. */
  getLattice(key: string): Promise<Lattice | undefined>;
  /**
   * Every concurrent version of a key written under `causal` or `transactional-causal` (siblings,
   * in clock order; `get` returns the first); for other values, their one plain value. `[]` when
   * absent. Reads at the run's level, like `get`.
   */
  getVersions<T = unknown>(key: string): Promise<T[]>;
  /** Writes a key as a last-writer-wins value. */
  put(key: string, value: unknown): Promise<void>;
  /**
   * Merges a lattice into a key, e.g. `ctx.merge("visits", ctx.lattices.counter(1))`. Merging a
   * different kind than the key holds fails with `LATTICE_TYPE_MISMATCH`.
   */
  merge(key: string, value: Lattice): Promise<void>;
  /** The lattice constructors (`counter`, `set`, `max`, `min`, `lww`, `map`). */
  readonly lattices: Lattices;
  /** Deletes a key. */
  delete(key: string): Promise<void>;
  /** Sends a message to the invocation `to` (its `ctx.id()`); best effort, not acknowledged. */
  send(to: string, msg: unknown): Promise<void>;
  /** Takes the next message of this invocation's mailbox; `undefined` when `timeoutMs` elapsed. */
  recv<T = unknown>(opts?: { timeoutMs?: number }): Promise<T | undefined>;
  /**
   * Calls another registered function and returns its result. In a `read-atomic` run the call
   * joins the caller's transaction: it reads the caller's snapshot and buffered writes, and its
   * writes commit with the caller's, or never.
   */
  call<T = unknown>(name: string, args: unknown[], options?: NestedCallOptions): Promise<T>;
  /**
   * Read-atomic transactions, the same API as the client's `cloud.txn`, served by this node's
   * transaction manager. Inside a `read-atomic` run a transaction joins the run's: `commit()`
   * adds its writes to the run's (visible when the run commits), `abort()` drops them.
   *
   * @example
   * ```ts
   * const tx = await ctx.txn.begin();
   * const n = (await tx.get<number>("stock/apples")) ?? 0;
   * tx.put("stock/apples", n - 1);
   * tx.merge("sold", ctx.lattices.counter(1));
   * await tx.commit(); // TXN_ABORTED (retryable): nothing visible, begin again
   * ```
   */
  readonly txn: ClientTransactions;
}

/** Options of `ctx.get`. */
export interface GetOptions {
  /**
   * For a typed array (a tensor, a matrix): return this worker's cached instance of the key's
   * current version instead of a copy of it, so a big value read on every call costs no copy.
   * The caller must not change it. One that does only costs itself: before each hand-out the
   * instance is compared with a private copy, and a changed one is left to its caller and
   * replaced. Other values are decoded as usual. @default false
   *
   * @example
   * ```ts
   * const m = await ctx.get<Float32Array>("rec/cat/3", { shared: true }); // read it, never write
   * ```
   */
  shared?: boolean;
}

/** Options of `ctx.call`. */
export interface NestedCallOptions {
  /**
   * Keys the callee will read: placement prefers the node caching them, as it does for
   * `{ $stratusRef: key }` arguments, without the value being resolved into an argument.
   *
   * @example
   * ```ts
   * await ctx.call("score", [row, key], { near: [key] }); // score reads `key` with ctx.get
   * ```
   */
  near?: readonly string[];
}

/** The marker of a reference argument: `{ [REF_MARKER]: key }` is replaced by the key's value. */
export const REF_MARKER = "$stratusRef";

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

/** What the host answers to `get`: the value's version, and its bytes unless the worker has them. */
export interface VersionedValue {
  version: string;
  bytes?: Uint8Array;
}

// ---- worker → main thread. A result is a bare Uint8Array: the commonest message stays cheapest ----

export interface ReadyMsg {
  t: "ready";
}
export interface ErrMsg {
  t: "err";
  e: WireError;
}
export interface HostCallMsg {
  t: "host";
  inv: string;
  seq: number;
  op: HostOp;
  a: unknown[];
}

export type UpMsg = Uint8Array | ReadyMsg | ErrMsg | HostCallMsg;

/**
 * Returns bytes that own their buffer. `postMessage` clones a view's whole ArrayBuffer, and
 * msgpackr (and frame decoders) hand out small views of large shared buffers. For big values use
 * `ownValueBytes` and transfer the result instead: one copy instead of a copy and a clone.
 */
export function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

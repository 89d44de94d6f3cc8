/**
 * Executors: a pool of worker threads that run user functions, each up to its function's
 * `concurrency` of invocations at once (1: Cloudburst's one at a time), with per-call time limits
 * and per-invocation memory limits (see memory.ts).
 *
 * ## Values
 * Arguments and results are bytes of the value codec (`encodeValue` / `decodeValue`); only the
 * worker that runs a function decodes them. An argument that decodes to `{ $stratusRef: key }`
 * (src/function's `REF_MARKER`) is replaced by the value of `key` (fetched with the host `get`, several in
 * parallel) before the function runs; a missing key gives `undefined`.
 *
 * ## Code
 * A function version (`name` + `version`) is compiled once per worker, on first use; its optional
 * `init(ctx)` runs then too (inside that first call, counting toward its time limit) and its
 * result is `ctx.state` for every later call in that worker. An init that throws fails the call
 * and is retried by the next one. Workers isolate failures, not trust: user code shares the
 * worker's globals with the other functions that worker runs.
 *
 * ## Host contract
 * User code reaches the node through its ctx. `ctx.id()` and `ctx.state` are local; every other
 * method is a host call: the worker posts it, the pool checks its arguments and calls the
 * {@link HostHandler} given to the pool as `host(op, args, { id, run, fn, deadline, signal })`
 * (invocation id, the invocation's opaque `run`, function name, when its answer stops mattering,
 * and for `call` a signal aborted when it is cancelled), and sends back what it resolves to. Each
 * op's arguments and result are typed by {@link HostCalls} (host-calls.ts), which ctx.ts,
 * calls.ts and the node all use. User values are encoded in the worker, so arguments and results
 * carry bytes, never user objects.
 *
 * `ctx.recv({ timeoutMs })` is no host call: the node pushes messages with
 * {@link ExecutorPool.deliver} into the worker running the invocation, and `recv` reads them
 * there (`undefined` after the timeout, 30 s by default). Workers keep the bytes of values they
 * read by key and version (`valueCacheBytes`), so a hot `get` moves no bytes between threads.
 *
 * Bytes are `encodeValue` output and are decoded in the worker. A host that rejects with a
 * StratusError makes the ctx method throw that error, with its code, in user code; if user code
 * lets it escape, the invocation fails with that code (e.g. `STORAGE_UNAVAILABLE`, retryable).
 * Host calls are only honoured while their invocation runs: a ctx used after its function
 * returned gets a `FUNCTION_ERROR` rejection. Time spent in host calls counts toward the
 * invocation's time limit.
 *
 * ## Failures
 * `FUNCTION_ERROR` (user code threw; `details.stack` / `details.name` are the user's),
 * `FUNCTION_TIMEOUT` and `FUNCTION_OOM` (the worker is replaced; calls queued behind it are re-run
 * on other workers, not failed), `BAD_FUNCTION` (does not compile), `INTERNAL` (a worker crashed),
 * `CLOSED`.
 *
 * @example
 * ```ts
 * import { ExecutorPool, validateFunctionSource } from "./node/executor/index.js";
 * import { decodeValue, encodeValue } from "./lattice/index.js";
 *
 * const source = "async (ctx, x) => { await ctx.put('last', x); return x + 1; }";
 * validateFunctionSource(source); // at registration: throws BAD_FUNCTION on free variables
 * const store = new Map<string, Uint8Array>();
 * const pool = new ExecutorPool({
 *   size: 2,
 *   host: async (op, args, _inv) => {
 *     if (op === "put") store.set(args[0], args[1]);
 *     if (op === "get") return store.get(args[0]);
 *     return undefined;
 *   },
 * });
 * await pool.start();
 * const code = { name: "inc", version: "1", kind: "source" as const, source, timeoutMs: 1000 };
 * decodeValue(await pool.invoke({ id: "c1", code, args: [encodeValue(1)] })); // 2
 * await pool.close();
 * ```
 */
export { POOL_DEFAULTS } from "./options.js";
export { ExecutorPool } from "./pool.js";
export { EXECUTOR_GLOBALS, validateFunctionCode, validateFunctionSource } from "./validate.js";
export type { ValidateOptions } from "./validate.js";
export type {
  ChainOptions,
  ExecutorPoolOptions,
  ExecutorPoolStats,
  FunctionCode,
  Invocation,
  InvocationObserver,
  WorkerLogLine,
  WorkerLogObserver,
} from "./types.js";
export { decodeHostCall, hostHandler, isHostOp } from "./host-calls.js";
export type {
  HostArgs,
  HostCall,
  HostCallOf,
  HostCalls,
  HostHandler,
  HostHandlers,
  HostInvocation,
  HostOp,
  HostOpHandler,
  HostResult,
  VersionedValue,
} from "./host-calls.js";

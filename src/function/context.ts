/**
 * The ctx user functions program against. Types only: the engine (src/node/executor, `Ctx`)
 * implements them, the client (`Stratus.register`) and the dataflow stages name them, and none of
 * them has to import the engine to do so.
 */
import type { Lattice, Lattices } from "../lattice/index.js";
import type { ArgsOf, CallName, Callable, Handler, NameOf, ResultOf, WithRefs } from "./handles.js";
import type { Transactions } from "./transactions.js";

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
   *
   * Typed by the callee's type: a function's code cannot capture its client's handle, so the
   * handle's type is given and its name is sent. The name, the arguments and the result are then
   * checked like the handle's own `call`.
   *
   * @example
   * ```ts
   * // const double = await cloud.register("double", async (ctx, x: number) => x * 2);
   * await cloud.register("quadruple", async (ctx, x: number) => {
   *   const twice = await ctx.call<typeof double>("double", [x]); // number
   *   return ctx.call<typeof double>("double", [twice]);
   * });
   * ```
   */
  call<F extends Callable = never>(
    name: NameOf<F>,
    args: WithRefs<ArgsOf<F>>,
    options?: NestedCallOptions,
  ): Promise<ResultOf<F>>;
  /**
   * Calls a function by a name known only at run time: its result is `unknown`, or the type the
   * caller asserts.
   */
  call<T = unknown>(name: CallName<T>, args: unknown[], options?: NestedCallOptions): Promise<T>;
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
  readonly txn: Transactions;
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

/** Options of `ctx.call` (a nested call, from inside a function). */
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

/**
 * What a function receives as its first argument: the {@link FunctionContext}, with `state`
 * typed as what the function's `init` returns.
 *
 * @example
 * ```ts
 * const score = async (ctx: Context<{ model: Float32Array }>, x: number) => ctx.state.model[x];
 * ```
 */
export type Context<State = unknown> = Omit<FunctionContext, "state"> & { readonly state: State };

/**
 * A Stratus function: plain (a)sync code; its source is shipped, so it may not capture variables.
 * Parameters left unannotated are `unknown` (see {@link Handler}), so strict code cannot use them
 * untyped.
 *
 * @example
 * ```ts
 * const inc: StratusFunction = async (ctx, x: number) => x + 1;
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a function's ctx.state is its init's, unknown here
export type StratusFunction<State = any> = Handler<State>;

/**
 * The marker of a reference argument: `{ [REF_MARKER]: key }` (what `ref(key)` builds) is replaced
 * by the key's value before the function runs.
 */
export const REF_MARKER = "$stratusRef";

/**
 * Handles: what `register` and `registerDag` return, so that later calls are checked by the
 * compiler against the registered code (arguments, result, a DAG's source names). A handle is
 * the registered name plus a few methods calling through its client; the types ride along as
 * types only.
 */
import { InvalidArgumentError } from "../errors/index.js";
import type { ArgsOf, FunctionRef, ResultOf, WithRefs } from "../function/index.js";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Future } from "./future.js";
import { checkArgs } from "./schemas.js";
import type { CallOptions } from "./stratus.js";

/**
 * A registered function: `await handle.call(…args)` runs it, with the arguments and result types
 * of the code that was registered.
 *
 * @example
 * ```ts
 * const double = await cloud.register("double", async (ctx, x: number) => x * 2);
 * const four = await double.call(2); // number
 * await double.callWith([ref("n")], { consistency: "causal" }); // a reference for x
 * ```
 */
export interface FunctionHandle<
  Args extends unknown[] = unknown[],
  Result = unknown,
  Name extends string = string,
> extends FunctionRef<Args, Result, Name> {
  /** Calls the function with these arguments (each may also be a `ref(key)`). */
  call(...args: WithRefs<Args>): Promise<Result>;
  /** Calls the function with these arguments and call options. */
  callWith(args: WithRefs<Args>, options: CallOptions): Promise<Result>;
}

/** The handle type of handler `F` registered as `N`. */
export type HandleOf<F, N extends string = string> = FunctionHandle<ArgsOf<F>, ResultOf<F>, N>;

/**
 * What the compiler knows of a registered DAG: its name, and as types only the inputs of its
 * source functions and its sink's result.
 */
export interface DagRef<
  Inputs extends object = Record<string, unknown[]>,
  Result = unknown,
  Name extends string = string,
> {
  /** The name it is registered under. */
  readonly name: Name;
  /** Types only: `undefined` at run time. */
  readonly "~types": { readonly inputs: Inputs; readonly result: Result } | undefined;
}

/**
 * A registered DAG: `await pipeline.call({ inc: [1] })` runs it. The inputs are keyed by the
 * names of its source functions, each with that function's arguments; the result is its sink's.
 *
 * @example
 * ```ts
 * const pipeline = await cloud.registerDag("pipeline", dag(inc).to(square));
 * await pipeline.call({ inc: [1] }); // 4, a number
 * const fut = await pipeline.call({ inc: [2] }, { future: true }); // Future<number>
 * ```
 */
export interface DagHandle<
  Inputs extends object = Record<string, unknown[]>,
  Result = unknown,
  Name extends string = string,
> extends DagRef<Inputs, Result, Name> {
  /** Runs the DAG; with `future: true`, answers at once with a {@link Future} of its result. */
  call(inputs: Inputs, options: CallOptions & { future: true }): Promise<Future<Result>>;
  call(inputs: Inputs, options?: CallOptions & { future?: false }): Promise<Result>;
}

/** The inputs of DAG ref `D`. */
export type InputsOf<D> = D extends DagRef<infer I, unknown> ? I : never;

/** What a DAG ref `D` resolves to. */
export type DagResultOf<D> = D extends DagRef<object, infer R> ? R : never;

/**
 * A module's functions as methods: what `cloud.client<typeof import("./functions.js")>()`
 * returns, for a module deployed with `stratus deploy functions.ts`. Every exported function
 * becomes a method taking its arguments after the ctx and resolving to its result.
 *
 * @example
 * ```ts
 * const fns = cloud.client<typeof import("./functions.js")>();
 * await fns.double(21); // number
 * ```
 */
export type ModuleClient<M> = {
  readonly [
    K in keyof M as K extends string
      ? M[K] extends (ctx: never, ...args: never) => unknown
        ? K
        : never
      : never
  ]: (...args: WithRefs<ArgsOf<M[K]>>) => Promise<ResultOf<M[K]>>;
};

/** What handles call through: the client's untyped calls. */
export interface HandleTarget {
  call(name: string, args: unknown[], options?: CallOptions): Promise<unknown>;
  callDag(
    name: string,
    inputs: Record<string, unknown[]>,
    options: CallOptions & { future?: boolean },
  ): Promise<unknown>;
}

/** A registered name as a handle or ref carries it; a JavaScript caller may pass anything. */
export function nameOf(what: string | { readonly name: unknown }, kind: string): string {
  // A function has a name too, its JavaScript one: only handles and strings name registered code.
  const name =
    typeof what === "string"
      ? what
      : typeof what === "object"
        ? (what as { name?: unknown } | null)?.name
        : undefined;
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(`${kind} must be a name or a handle with a name`);
  }
  return name;
}

/** The handle of function `name`, calling through `target`. */
export function functionHandle<Args extends unknown[], Result, Name extends string>(
  target: HandleTarget,
  name: Name,
  input?: StandardSchemaV1<unknown[], unknown[]>,
): FunctionHandle<Args, Result, Name> {
  const send = async (args: unknown[], options?: CallOptions): Promise<Result> =>
    (await target.call(
      name,
      input === undefined ? args : await checkArgs(name, input, args),
      options,
    )) as Result;
  const handle = Object.freeze({
    name,
    "~types": undefined,
    call: (...args: WithRefs<Args>) => send(args),
    callWith: (args: WithRefs<Args>, options: CallOptions) => send(args, options),
  });
  if (input !== undefined) inputs.set(handle, input);
  return handle;
}

/** The input schemas of this process's handles, so `cloud.call(handle, …)` checks them too. */
const inputs = new WeakMap<object, StandardSchemaV1<unknown[], unknown[]>>();

/** `args` as checked by `fn`'s input schema, when `fn` is a handle registered with one. */
export async function checkedArgs(fn: string | object, args: unknown[]): Promise<unknown[]> {
  const input = typeof fn === "object" ? inputs.get(fn) : undefined;
  return input === undefined ? args : checkArgs(nameOf(fn as { name: unknown }, "fn"), input, args);
}

/** The handle of DAG `name`, calling through `target`. */
export function dagHandle<Inputs extends object, Result, Name extends string>(
  target: HandleTarget,
  name: Name,
): DagHandle<Inputs, Result, Name> {
  const call = (inputs: Inputs, options: CallOptions & { future?: boolean } = {}) =>
    target.callDag(name, inputs as Record<string, unknown[]>, options);
  return Object.freeze({ name, "~types": undefined, call }) as DagHandle<Inputs, Result, Name>;
}

/**
 * A module's functions as methods, calling `name(…args)` through `target`. Not a thenable (its
 * `then` is undefined), so a promise may resolve to it.
 */
export function moduleClient<M>(target: HandleTarget): ModuleClient<M> {
  return new Proxy({} as ModuleClient<M>, {
    get: (_t, prop) =>
      typeof prop === "string" && prop !== "then"
        ? (...args: unknown[]) => target.call(prop, args)
        : undefined,
  });
}

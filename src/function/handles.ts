/**
 * The types that tie a call to the function it calls: what a handler looks like to the compiler,
 * what a registered function's handle carries (its name, argument and result types), and how a
 * call's arguments and result are derived from either. Types only: the client builds handles
 * (src/client), the ctx takes their types for `ctx.call`, and neither imports the other.
 */
import type { Context } from "./context.js";

/**
 * A function as `register` takes it: the ctx, then the caller's arguments.
 *
 * Declared as a method's type on purpose: method parameters are compared both ways, so a handler
 * with annotated parameters (`(ctx, x: number) => …`) fits, while a parameter left unannotated
 * is contextually typed `unknown`, never `any`, so strict code that uses it untyped fails to
 * compile.
 *
 * @example
 * ```ts
 * const double: Handler = async (ctx, x: number) => x * 2;
 * ```
 */
export type Handler<State = unknown> = {
  fn(ctx: Context<State>, ...args: unknown[]): unknown;
}["fn"];

/**
 * What the compiler knows of a registered function: its name and, as types only, its arguments
 * and result. Handles (`await cloud.register(…)`) are function refs; so is any object of this
 * shape, and `typeof handle` is what `ctx.call<typeof handle>("name", args)` takes.
 *
 * @example
 * ```ts
 * type Double = FunctionRef<[x: number], number, "double">;
 * ```
 */
export interface FunctionRef<
  Args extends unknown[] = unknown[],
  Result = unknown,
  Name extends string = string,
> {
  /** The name it is registered under. */
  readonly name: Name;
  /**
   * Types only: the arguments and result the function was registered with; `undefined` at run
   * time. Required, so that a value that merely has a `name` (a function, a record) is no ref.
   */
  readonly "~types": { readonly args: Args; readonly result: Result } | undefined;
}

/** Any function ref, whatever its types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest ref: any argument and result types
export type AnyFunctionRef = FunctionRef<any, unknown>;

/** What a typed call may name: a function ref (a handle), or a handler function's type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest handler: any arguments
export type Callable = AnyFunctionRef | ((ctx: never, ...args: any) => unknown);

/**
 * The arguments a call of `F` takes (a handler's parameters after the ctx).
 *
 * @example
 * ```ts
 * type A = ArgsOf<(ctx: Context, x: number, y?: string) => number>; // [x: number, y?: string]
 * ```
 */
// Functions first: a function type has a `name` too, so it would pass for a ref of unknown types.
export type ArgsOf<F> = F extends (ctx: never, ...args: infer A) => unknown
  ? A
  : F extends FunctionRef<infer A, unknown>
    ? A
    : never;

/**
 * What a call of `F` resolves to (a handler's awaited result).
 *
 * @example
 * ```ts
 * type R = ResultOf<(ctx: Context, x: number) => Promise<number>>; // number
 * ```
 */
export type ResultOf<F> = F extends (ctx: never, ...args: never) => infer R
  ? Awaited<R>
  : F extends FunctionRef<unknown[], infer R>
    ? R
    : never;

/** The name `F` is registered under, when its type knows it (a handle's); else any string. */
export type NameOf<F> = F extends (...args: never) => unknown
  ? string
  : F extends FunctionRef<unknown[], unknown, infer N>
    ? N
    : string;

/**
 * The name a call asserting result type `T` may use: any string, unless `T` is a ref or handler
 * type. Those calls are typed by the callee (the name, the arguments), so one that does not fit
 * is an error rather than an untyped call asserting a handle as its result.
 */
export type CallName<T> = [T] extends [Callable] ? never : string;

/** A reference argument (what `ref(key)` builds): resolved to the key's value before the call. */
export interface RefArg {
  readonly $stratusRef: string;
}

/**
 * A call's arguments as the caller passes them: each one its parameter's type, or a reference
 * (`ref(key)`) to a stored value of any type, resolved on the executor.
 */
export type WithRefs<A extends unknown[]> = { [K in keyof A]: A[K] | RefArg };

/**
 * The function API: what user functions receive (`FunctionContext`, `Context<State>`) and may
 * ask for (`GetOptions`, `NestedCallOptions`, `ctx.txn`'s `Transactions`). Types and one
 * constant, below the engine that implements them: it imports only lattices and errors, so the
 * client, the dataflow stages and test workloads can name the ctx without loading the server.
 *
 * @example
 * ```ts
 * import type { Context } from "./function/index.js";
 * export const visit = async (ctx: Context, page: string) => {
 *   await ctx.merge(`visits/${page}`, ctx.lattices.counter(1));
 *   return ctx.get<number>(`visits/${page}`);
 * };
 * ```
 */
export { REF_MARKER } from "./context.js";
export type {
  Context,
  FunctionContext,
  GetOptions,
  NestedCallOptions,
  StratusFunction,
} from "./context.js";
export type {
  AnyFunctionRef,
  ArgsOf,
  CallName,
  Callable,
  FunctionRef,
  Handler,
  NameOf,
  RefArg,
  ResultOf,
  WithRefs,
} from "./handles.js";
export type { TransactionHandle, Transactions } from "./transactions.js";

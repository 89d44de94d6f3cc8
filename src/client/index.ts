/**
 * The Stratus SDK.
 *
 * @example
 * ```ts
 * import { Stratus, ref } from "stratus";
 * const cloud = await Stratus.connect("stratus://127.0.0.1:7400", { token });
 * await cloud.call("inc", [ref("k")]);
 * ```
 */
export { ClusterAdmin } from "./admin.js";
export { Future } from "./future.js";
export { REF_FIELD, isRef, ref } from "./ref.js";
export type { Ref } from "./ref.js";
export { Stratus } from "./stratus.js";
export { DagBuilder, dag } from "./dag.js";
export type { DagInputs, DagResult, EdgeMismatch, SourceInputs } from "./dag.js";
export type {
  DagHandle,
  DagRef,
  DagResultOf,
  FunctionHandle,
  HandleOf,
  InputsOf,
  ModuleClient,
} from "./handles.js";
export { ClientTransaction, ClientTransactions } from "../txn/handle.js";
export type { TickInfo } from "../cron/index.js";
export type { FunctionLogLine, LogQuery, LogsAnswer } from "../protocol/index.js";
export type {
  CallOptions,
  ClusterStatus,
  ConnectOptions,
  LocalOptions,
  RegisterOptions,
  ScheduleInfo,
  ScheduleTarget,
} from "./stratus.js";
export type {
  AnyFunctionRef,
  ArgsOf,
  CallName,
  Callable,
  Context,
  FunctionContext,
  FunctionRef,
  Handler,
  NameOf,
  RefArg,
  ResultOf,
  WithRefs,
  GetOptions,
  NestedCallOptions,
  StratusFunction,
  TransactionHandle,
  Transactions,
} from "../function/index.js";

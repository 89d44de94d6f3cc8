/**
 * The protocol: what processes say to each other. The messages of a run (`RunMeta`, `Trigger`,
 * `RunResult`, `Cancel`, `FnMessage`, the pinned-version and home-read messages), what clients
 * may ask of a gateway (`GatewayApi`) and of any process (`ProcessApi`), the storage key layout,
 * and the exact-shape type guards that narrow untrusted input to those types. Nodes, levels,
 * transactions and clients learn here what a run looks like, without depending on the scheduler.
 *
 * @example
 * ```ts
 * import { checkPayload, isTrigger, request } from "./protocol/index.js";
 * if (isTrigger(msg)) node.onTrigger(msg); // msg: Trigger
 * const p = checkPayload("kv.put", payload); // { key: string; value: Uint8Array }
 * const status = await request(conn, "status", {}); // ClusterStatus
 * ```
 */
export { CLIENT_REQUESTS, request } from "./cluster.js";
export type {
  Api,
  ApiMethod,
  ApiRequest,
  ApiResponse,
  ClusterInfo,
  ProcessApi,
  Requester,
} from "./cluster.js";
export { MAX_LOG_QUERY_LINES, checkLogQuery } from "./logs.js";
export type { FunctionLogLevel, FunctionLogLine, LogQuery, LogsAnswer } from "./logs.js";
export { GATEWAY_METHODS, checkPayload, isGatewayMethod, isTxnMethod } from "./gateway.js";
export type {
  ClusterStatus,
  DagSpec,
  FunctionInfo,
  FutureOutcome,
  FutureStarted,
  GatewayApi,
  GatewayHandler,
  GatewayHandlers,
  GatewayMethod,
  GatewayRequest,
  GatewayResponse,
  ScheduleInfo,
  TxnHandlers,
  TxnMethod,
  TxnRpc,
  TxnWrite,
  WireDagSpec,
  WireRunOptions,
} from "./gateway.js";
export {
  CONSISTENCY_LEVELS,
  DEFAULT_FUTURE_WAIT_MS,
  DEFAULT_RUN_TIMEOUT_MS,
  MAX_CONCURRENCY,
  REPLY_SLACK_MS,
  HOME_METHODS,
  KEYS,
  MAX_TIMINGS,
  PIN_METHODS,
  isCancel,
  isConsistency,
  isFnMessage,
  isFuturePush,
  isHomeRead,
  isHomeRelease,
  isPinFetch,
  isPinRelease,
  isRunResult,
  isTraceparent,
  isTrigger,
} from "./messages.js";
export type {
  Cancel,
  Consistency,
  DagDef,
  FnMessage,
  FnTiming,
  FunctionDef,
  FunctionSchema,
  FuturePush,
  HomeRead,
  HomeRelease,
  NodeInfo,
  PinFetch,
  PinRelease,
  ReplyTo,
  RunHome,
  RunMeta,
  RunRequestOptions,
  RunResult,
  ScheduledFn,
  Trigger,
} from "./messages.js";
export { MAX_SESSION_KEYS, SESSION_SLOTS, nestedSession } from "./session.js";
export type {
  CarriedTxn,
  CarriedWrite,
  DepRecord,
  RrSlot,
  SessionSlot,
  SessionSlots,
  TcSlot,
} from "./session.js";
export { isRecord, nameMap } from "./shape.js";
export type { Check } from "./shape.js";

/**
 * Stratus: stateful serverless infrastructure for TypeScript.
 *
 * This is the package's public surface, listed name by name: what applications program against
 * (the client, functions' types, lattices, dataflow, errors), the stores a process runs over, and
 * the process itself for embedding. Everything else stays behind the folders' own doors; a change
 * to this list shows in `api/stratus.api.txt` (see test/package/api.test.ts).
 *
 * @example
 * ```ts
 * import { openStore, HybridClock, LwwLattice } from "stratus";
 * const store = await openStore("memory:");
 * await store.put("k", LwwLattice.of(1, new HybridClock().now()));
 * ```
 */

// ---- the client and what functions see ----
export {
  ClusterAdmin,
  Future,
  ref,
  Stratus,
  ClientTransaction,
  ClientTransactions,
  DagBuilder,
  dag,
} from "./client/index.js";
export type {
  AnyFunctionRef,
  ArgsOf,
  CallName,
  CallOptions,
  Callable,
  ClusterStatus,
  ConnectOptions,
  Context,
  DagHandle,
  DagInputs,
  DagRef,
  DagResult,
  DagResultOf,
  EdgeMismatch,
  FunctionHandle,
  FunctionRef,
  Handler,
  HandleOf,
  InputsOf,
  LocalOptions,
  ModuleClient,
  NameOf,
  RefArg,
  ResultOf,
  SourceInputs,
  WithRefs,
  Ref,
  RegisterOptions,
  ScheduleInfo,
  ScheduleTarget,
  StratusFunction,
  TickInfo,
} from "./client/index.js";
export type {
  FunctionContext,
  GetOptions,
  NestedCallOptions,
  TransactionHandle,
  Transactions,
} from "./function/index.js";
export { CONSISTENCY_LEVELS } from "./protocol/index.js";
export type {
  Consistency,
  DagDef,
  DagSpec,
  FunctionInfo,
  FunctionSchema,
} from "./protocol/index.js";

// ---- errors: every class a caller may catch, and how to tell one ----
export {
  ERROR_CODES,
  BadDagError,
  BadEncodingError,
  BadFlowError,
  BadFrameError,
  BadFunctionError,
  CancelledError,
  ClosedError,
  FunctionError,
  FunctionOomError,
  FunctionTimeoutError,
  InvalidArgumentError,
  InvalidKeyError,
  LatticeTypeMismatchError,
  NoResourcesError,
  NoSuchDagError,
  NotFoundError,
  NoSuchFunctionError,
  NodeLostError,
  OverloadedError,
  SchemaMismatchError,
  SnapshotConflictError,
  StorageUnavailableError,
  StratusError,
  TimeoutError,
  UnauthorizedError,
  UnknownColumnError,
  ValueTooLargeError,
  isStratusError,
} from "./errors/index.js";
export type { ErrorCode, ErrorOptions } from "./errors/index.js";

// ---- state: lattices, clocks and the value codec ----
export {
  CausalLattice,
  CounterLattice,
  HybridClock,
  LATTICE_KINDS,
  LwwLattice,
  MapLattice,
  MaxLattice,
  MinLattice,
  MultiCausalLattice,
  OrderedSetLattice,
  PriorityLattice,
  SetLattice,
  VectorClock,
  decodeLattice,
  decodeValue,
  encodeLattice,
  encodeValue,
  lattices,
  mergeLattices,
  plainValue,
} from "./lattice/index.js";
export type {
  CausalVersion,
  ClockOrder,
  CounterTotals,
  DecodeValueOptions,
  HybridClockOptions,
  Lattice,
  LatticeKind,
  Lattices,
  MultiCausalVersion,
  OrderedEntry,
  Timestamp,
} from "./lattice/index.js";

// ---- storage ----
export {
  MemoryStore,
  RedisStore,
  openStore,
  parseStoreAddress,
  redactStoreAddress,
} from "./storage/index.js";
export type {
  ChangeEvent,
  ChangeListener,
  FsyncPolicy,
  MemoryStoreOptions,
  RecoveryReport,
  RedisStoreOptions,
  Store,
  StoreLimits,
  StoreOptions,
  Subscription,
} from "./storage/index.js";

// ---- dataflow ----
export { Flow, FlowApp, Grouped, Stage, passes, plan } from "./dataflow/index.js";
export type {
  AggFn,
  BatchOptions,
  CodeOptions,
  ColumnType,
  ColumnTypes,
  DeployOptions,
  DeployedFunction,
  FlowFuture,
  FlowMetadata,
  JoinKind,
  JoinOptions,
  MapOptions,
  Merge,
  NumericColumn,
  OpSpec,
  OptimizeOptions,
  Plan,
  PlannedFunction,
  Row,
  RunOptions,
  ScalingHints,
  Schema,
  Table,
  Tensor,
} from "./dataflow/index.js";

// The server (`StratusProcess`, an embedded cluster) is the `stratus/local` entry's: importing the
// client loads none of it, and `Stratus.local()` loads it when called.

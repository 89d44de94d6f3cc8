/**
 * What clients may ask of a scheduler's gateway: every method with the exact shape of its
 * request and the type of its answer ({@link GatewayApi}). The client's `rpc`, the gateway's
 * handler table, the HTTP ingress, `ctx.txn` and the CLI all take their method names and types
 * from here, and {@link checkPayload} narrows an untrusted payload to its method's request type.
 *
 * The gateway reads only what a payload has passed here, so a payload with an unknown key, a
 * wrong type, an inherited property or an oversized field is refused with `INVALID_ARGUMENT`
 * before any handler sees it. Semantic checks (names, DAG structure, function source, what an
 * option means) stay with the gateway.
 */
import { InvalidArgumentError } from "../errors/index.js";
import type { WireError } from "../errors/index.js";
import type { Timestamp } from "../lattice/index.js";
import { MAX_CONCURRENCY, isTraceparent } from "./messages.js";
import type { Consistency, DagDef, FunctionSchema } from "./messages.js";
import { MAX_SESSION_KEYS } from "./session.js";
import { logQueryShape } from "./logs.js";
import type { LogQuery, LogsAnswer } from "./logs.js";
import {
  bool,
  bytes,
  empty,
  exact,
  finite,
  int,
  isRecord,
  listOf,
  nonEmptyStr,
  oneOf,
  recordOf,
  str,
} from "./shape.js";
import type { Check } from "./shape.js";

/** Input of `registerDag`. */
export interface DagSpec {
  functions: string[];
  edges?: [string, string][];
  /** Functions that fire on their first upstream result instead of waiting for all. */
  anyOf?: string[];
  /** The consistency level of runs that name none. @default "lww" */
  consistency?: Consistency;
}

/** A {@link DagSpec} as it arrives: its structure and level are the gateway's to check. */
export type WireDagSpec = {
  functions: string[];
  edges?: string[][];
  anyOf?: string[];
  consistency?: string;
};

/** Options of a run as a caller sends them; the gateway checks what they mean. */
export type WireRunOptions = {
  timeoutMs?: number;
  future?: boolean;
  consistency?: string;
  requestId?: string;
  retry?: boolean;
  traceparent?: string;
};

/** A buffered transaction write: key, 0 (a whole value) or 1 (a merge), the encoded lattice. */
export type TxnWrite = [key: string, mode: 0 | 1, value: Uint8Array | null];

/** A schedule as `schedules` lists it: `next` is its next tick (epoch ms), null if none. */
export type ScheduleInfo = { name: string; cron: string; next: number | null } & (
  { fn: string } | { dag: string }
);

/**
 * A future's outcome, as stored under `sys/fut/<id>` and as `future.get` answers. `pending` marks
 * the record a gateway stores when it starts the run, so that a reader can tell a future still
 * running (wait for it) from one nobody started or whose record expired (`NOT_FOUND`); the
 * outcome's later write replaces it. `future.get` never answers a pending record.
 */
export interface FutureOutcome {
  ok: boolean;
  v?: Uint8Array;
  e?: WireError;
  pending?: true;
}

/** A registered function as `fn.list` and `fn.describe` answer it (no source: only its size). */
export interface FunctionInfo {
  name: string;
  kind: "source" | "module";
  version: string;
  exportName?: string;
  timeoutMs?: number;
  /** Whether it has an `init` (run once per executor before its first call). */
  init: boolean;
  /** Length of its source (or bundled module) in characters. */
  sourceLength: number;
  schema?: FunctionSchema;
  /** DAGs that name it (`fn.describe` only). */
  dags?: string[];
}

/** What `call` and `dag.call` answer with `future: true`: the future's id. */
export interface FutureStarted {
  future: string;
}

/** What `status()` returns. */
export interface ClusterStatus {
  backend: string;
  nodes: {
    id: string;
    addr: string;
    executors: number;
    busy: number;
    queued: number;
    cachedKeys: number;
  }[];
  functions: string[];
  dags: string[];
  inFlight: number;
}

/** Every gateway method: its request's exact shape and what it answers. */
export interface GatewayApi {
  "fn.register": {
    request: {
      name: string;
      source: string;
      kind?: "source" | "module";
      exportName?: string;
      init?: string;
      timeoutMs?: number;
      concurrency?: number;
      /** JSON Schemas of the arguments and result, for the OpenAPI document. */
      schema?: FunctionSchema;
    };
    response: { name: string; version: string };
  };
  "fn.list": { request: Record<string, never>; response: FunctionInfo[] };
  "fn.describe": { request: { name: string }; response: FunctionInfo };
  "fn.remove": { request: { name: string }; response: { removed: boolean } };
  "dag.list": { request: Record<string, never>; response: DagDef[] };
  "dag.describe": { request: { name: string }; response: DagDef };
  "dag.remove": { request: { name: string }; response: { removed: boolean } };
  /**
   * Cancels a run in flight on this scheduler, named by its run id or by the id of the future it
   * was started with: its functions stop and its caller gets `CANCELLED`. `NOT_FOUND` when no
   * such run is in flight here.
   */
  "run.cancel": { request: { id: string }; response: { cancelled: true } };
  "dag.register": { request: { name: string; spec: WireDagSpec }; response: { name: string } };
  call: {
    request: { fn: string; args?: Uint8Array[]; refs?: string[]; options?: WireRunOptions };
    response: Uint8Array | FutureStarted;
  };
  "dag.call": {
    request: {
      dag: string;
      inputs?: Record<string, Uint8Array[]>;
      refs?: Record<string, string[]>;
      options?: WireRunOptions;
    };
    response: Uint8Array | FutureStarted;
  };
  "future.get": { request: { id: string; timeoutMs?: number }; response: FutureOutcome };
  "future.delete": { request: { id: string }; response: null };
  "kv.get": { request: { key: string }; response: Uint8Array | null };
  "kv.getLattice": { request: { key: string }; response: Uint8Array | null };
  "kv.put": { request: { key: string; value: Uint8Array }; response: null };
  "kv.merge": { request: { key: string; lattice: Uint8Array }; response: null };
  "kv.delete": { request: { key: string }; response: null };
  status: { request: Record<string, never>; response: ClusterStatus };
  /** Function logs kept by the live nodes (`stratus logs`). */
  logs: { request: LogQuery; response: LogsAnswer };
  schedule: {
    request: {
      name: string;
      cron: string;
      fn?: string;
      args?: Uint8Array[];
      dag?: string;
      inputs?: Record<string, Uint8Array[]>;
    };
    response: ScheduleInfo;
  };
  unschedule: { request: { name: string }; response: { removed: boolean } };
  schedules: { request: Record<string, never>; response: ScheduleInfo[] };
  "txn.begin": { request: { tid?: string }; response: { start: Timestamp } };
  "txn.read": {
    request: { tid: string; key: string; start: string; epoch?: number; n?: number };
    response: Uint8Array | null;
  };
  "txn.abort": { request: { tid: string; epoch?: number }; response: null };
  "txn.commit": {
    request: { tid: string; epoch: number; start: string; writes: TxnWrite[] };
    response: { ts: Timestamp | null };
  };
}

/** A gateway method's name. */
export type GatewayMethod = keyof GatewayApi;
/** The request of gateway method `M`, as the gateway receives it once checked. */
export type GatewayRequest<M extends GatewayMethod> = GatewayApi[M]["request"];
/** What gateway method `M` answers. */
export type GatewayResponse<M extends GatewayMethod> = GatewayApi[M]["response"];

/** The `txn.*` methods: what `cloud.txn` sends a gateway and `ctx.txn` sends its node. */
export type TxnMethod = Extract<GatewayMethod, `txn.${string}`>;

/**
 * Sends one `txn.*` request: a client's to its gateway, a function's `ctx.txn` to its node (as a
 * host call).
 */
export type TxnRpc = <M extends TxnMethod>(
  method: M,
  payload: GatewayRequest<M>,
) => Promise<GatewayResponse<M>>;

/** Serves gateway method `M`: its checked request in, its response out. */
export type GatewayHandler<M extends GatewayMethod, Ctx = void> = (
  p: GatewayRequest<M>,
  ctx: Ctx,
) => Promise<GatewayResponse<M>>;

/** One handler per gateway method (the gateway's table). */
export type GatewayHandlers<Ctx = void> = { [M in GatewayMethod]: GatewayHandler<M, Ctx> };

/** One handler per `txn.*` method (a gateway's, a node's, a read-atomic run's). */
export type TxnHandlers = { [M in TxnMethod]: GatewayHandler<M> };

const name = str(256);
const key = nonEmptyStr(4096);
const args = listOf(bytes);
const refList = listOf(key);
const callOptions: Check<WireRunOptions> = exact(
  {},
  {
    timeoutMs: finite,
    future: bool,
    consistency: str(32),
    requestId: nonEmptyStr(128),
    retry: bool,
    traceparent: isTraceparent,
  },
);
const txnStart = nonEmptyStr(32);
const tid = nonEmptyStr(128);
const epoch = int(1, 1_000_000);
const writeEntry: Check<TxnWrite> = (v): v is TxnWrite =>
  Array.isArray(v) &&
  v.length === 3 &&
  key(v[0]) &&
  (v[1] === 0 || v[1] === 1) &&
  (v[2] === null || bytes(v[2]));
const dagSpec: Check<WireDagSpec> = exact(
  { functions: listOf(name, 4096) },
  { edges: listOf(listOf(name, 2), 16_384), anyOf: listOf(name, 4096), consistency: str(32) },
);

/**
 * A JSON Schema as given at registration: a plain object, bounded in size so that a definition
 * stays a small stored record (the gateway reads nothing in it; the OpenAPI document copies it).
 */
const jsonSchema: Check<unknown> = (v): v is unknown => {
  if (!isRecord(v) && typeof v !== "boolean") return false;
  try {
    return JSON.stringify(v).length <= 64 * 1024;
  } catch {
    return false;
  }
};
const fnSchema: Check<FunctionSchema> = exact({}, { input: jsonSchema, output: jsonSchema });

/** The shape of every method's request. */
const SHAPES: { [M in GatewayMethod]: Check<GatewayRequest<M>> } = {
  "fn.register": exact(
    { name, source: str(Number.MAX_SAFE_INTEGER) },
    {
      kind: oneOf("source", "module"),
      exportName: str(256),
      init: str(Number.MAX_SAFE_INTEGER),
      timeoutMs: finite,
      concurrency: int(1, MAX_CONCURRENCY),
      schema: fnSchema,
    },
  ),
  "fn.list": empty,
  "fn.describe": exact({ name }),
  "fn.remove": exact({ name }),
  "dag.list": empty,
  "dag.describe": exact({ name }),
  "dag.remove": exact({ name }),
  "run.cancel": exact({ id: nonEmptyStr(64) }),
  "dag.register": exact({ name, spec: dagSpec }),
  call: exact({ fn: name }, { args, refs: refList, options: callOptions }),
  "dag.call": exact(
    { dag: name },
    { inputs: recordOf(args, 4096), refs: recordOf(refList, 4096), options: callOptions },
  ),
  "future.get": exact({ id: nonEmptyStr(256) }, { timeoutMs: finite }),
  "future.delete": exact({ id: nonEmptyStr(256) }),
  "kv.get": exact({ key }),
  "kv.getLattice": exact({ key }),
  "kv.put": exact({ key, value: bytes }),
  "kv.merge": exact({ key, lattice: bytes }),
  "kv.delete": exact({ key }),
  status: empty,
  logs: logQueryShape,
  schedule: exact(
    { name, cron: str(256) },
    { fn: name, args, dag: name, inputs: recordOf(args, 4096) },
  ),
  unschedule: exact({ name }),
  schedules: empty,
  "txn.begin": exact({}, { tid }),
  "txn.read": exact({ tid, key, start: txnStart }, { epoch, n: int(0, 1_000_000) }),
  "txn.abort": exact({ tid }, { epoch }),
  "txn.commit": exact({
    tid,
    epoch,
    start: txnStart,
    writes: listOf(writeEntry, MAX_SESSION_KEYS),
  }),
};

/** The gateway's methods, for role checks: everything a client may ask of a scheduler. */
export const GATEWAY_METHODS: ReadonlySet<GatewayMethod> = new Set(
  Object.keys(SHAPES) as GatewayMethod[],
);

/** True when `m` names a gateway method. */
export function isGatewayMethod(m: string): m is GatewayMethod {
  return Object.hasOwn(SHAPES, m);
}

/** True when `m` names one of the `txn.*` methods. */
export function isTxnMethod(m: string): m is TxnMethod {
  return isGatewayMethod(m) && m.startsWith("txn.");
}

/**
 * Checks a gateway request's payload and returns it as its method's request type. A missing
 * payload counts as `{}`.
 *
 * @throws InvalidArgumentError for a payload of the wrong shape.
 * @example
 * ```ts
 * const p = checkPayload("kv.get", { key: "k" }); // { key: "k" }, typed { key: string }
 * checkPayload("kv.get", { key: "k", extra: 1 }); // throws INVALID_ARGUMENT
 * ```
 */
export function checkPayload<M extends GatewayMethod>(
  method: M,
  payload: unknown,
): GatewayRequest<M> {
  const check: Check<GatewayRequest<M>> = SHAPES[method];
  const p = payload === undefined || payload === null ? {} : payload;
  if (!check(p)) {
    const keys = isRecord(p) ? Object.keys(p).slice(0, 16).join(", ") : typeof p;
    throw new InvalidArgumentError(
      `malformed ${method} request: unexpected keys or types (got ${keys})`,
      { details: { method } },
    );
  }
  return p;
}

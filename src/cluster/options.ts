/**
 * A process's options: what each means, its default, and the one resolver that checks them all,
 * the rules between options included, before anything starts. A process that cannot run as asked
 * fails here, having opened nothing.
 *
 * Each subsystem keeps the defaults it owns (the node's executors, the pool's time limits, the
 * dispatcher's retries, …) and {@link PROCESS_DEFAULTS} reads them from there, as do the
 * `stratus` flags. Options handed on whole to one subsystem (`pool`, `txn`, `monitor`, `stats`)
 * are checked by that subsystem when it starts; should one fail, the process closes what it had
 * started (see `StratusProcess.start`).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { pino } from "pino";
import type { Logger } from "pino";
import { InvalidArgumentError } from "../errors/index.js";
import type { MonitorOptions } from "../monitor/index.js";
import { NODE_DEFAULTS, isNodeId } from "../node/index.js";
import type { FunctionLogsOptions, NodeOptions } from "../node/index.js";
import {
  DEFAULT_FUTURE_RETENTION_MS,
  DEFAULT_MAX_RETRIES,
  PLACEMENT_POLICIES,
} from "../scheduler/index.js";
import type { PlacementPolicy } from "../scheduler/index.js";
import type { Store } from "../storage/index.js";
import type { TxnManagerOptions } from "../txn/index.js";
import { DEFAULT_IDLE_TIMEOUT_MS, connectionCaps, descriptorLimit } from "../wire/index.js";
import type { TlsClientOptions } from "../wire/index.js";

/**
 * The defaults of {@link ProcessOptions}, one per option that has one. Those another subsystem
 * owns are read from it: `executors` from the node, `maxRetries` from the dispatcher,
 * `futureRetentionMs` from the futures' store, the listener's idle timeout from the wire (its
 * connection caps are derived from the descriptor limit when the process starts).
 *
 * @example
 * ```ts
 * program.option("--executors <n>", "executor threads", int, PROCESS_DEFAULTS.executors);
 * ```
 */
export const PROCESS_DEFAULTS = {
  store: "memory:",
  scheduler: true,
  executors: NODE_DEFAULTS.executors,
  host: "127.0.0.1",
  port: 0,
  placement: "locality" satisfies PlacementPolicy,
  fuse: true,
  maxRetries: DEFAULT_MAX_RETRIES,
  clockOffsetMs: 0,
  futureRetentionMs: DEFAULT_FUTURE_RETENTION_MS,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  dashboard: true,
  closeTimeoutMs: 2_000,
} as const;

/** Options of {@link StratusProcess.start}. */
export interface ProcessOptions {
  /** Cluster token every connection must present. */
  token: string;
  /** Storage: an open Store or an address (`memory:`, `redis://…`, `redis-cluster://…`). @default "memory:" */
  store?: Store | string;
  /**
   * Transaction manager tuning (time limit, garbage collection, recovery scans); see
   * `TxnManagerOptions`. @default {}
   */
  txn?: Omit<TxnManagerOptions, "store" | "clock">;
  /** Run a scheduler/gateway (accepts clients). @default true */
  scheduler?: boolean;
  /**
   * Executor threads of this process's node; 0 runs no node, which only a process with a
   * scheduler may do. @default 4
   */
  executors?: number;
  /** Listen address. @default 127.0.0.1 */
  host?: string;
  /** Listen port; 0 picks a free one. @default 0 */
  port?: number;
  /** Address others reach this process at, when it differs from host:port (NAT, 0.0.0.0). */
  advertise?: string;
  /**
   * Process id (node id): with a node, 1 to 64 letters, digits, `-` and `_`.
   * @default "n-" and 8 random hex digits
   */
  id?: string;
  /** @default "locality" */
  placement?: PlacementPolicy;
  /**
   * Function name to node id: this scheduler places the function on that node while it is live.
   * For benchmarks and tests that need a DAG split across given nodes. @default {}
   */
  pin?: Record<string, string>;
  /** Run a DAG's linear stretches on one node back to back in one worker. @default true */
  fuse?: boolean;
  /** Node heartbeat period. @default 500 */
  heartbeatMs?: number;
  /** A node silent this long is removed. @default 2500 */
  expiryMs?: number;
  /** Retries of a run after its node is lost. @default 2 */
  maxRetries?: number;
  /**
   * Bytes of caller arguments held by the runs this process has in flight (until answered), in
   * all; past it calls are refused with `OVERLOADED` (retryable). @default 1 GiB
   */
  maxInFlightBytes?: number;
  /** Node cache size. @default 256 MiB */
  cacheBytes?: number;
  /**
   * Bytes of arguments of the calls queued or running on this node beyond which further calls
   * are refused with `OVERLOADED` (retryable). @default 512 MiB
   */
  maxQueuedBytes?: number;
  /**
   * Executor limits: `defaultTimeoutMs` (60 000), `maxTimeoutMs` (900 000: the cap on any
   * function's own timeoutMs), `resourceLimits` (heap, 512 MB), … as in ExecutorPoolOptions.
   */
  pool?: NodeOptions["pool"];
  /**
   * Test only: shifts this process's wall clock by this many milliseconds, to show that writes
   * are ordered by causality (hybrid logical clocks), not by hosts' clocks. @default 0
   */
  clockOffsetMs?: number;
  /**
   * Test only: this node's cache applies the store's invalidations this many milliseconds late,
   * so it serves stale values (how the consistency tests make weak levels' anomalies happen).
   * @default 0
   */
  lagInvalidationsMs?: number;
  /** How long futures' results stay readable in storage. @default 3600000 (1 hour) */
  futureRetentionMs?: number;
  /**
   * Most connections the wire listener keeps open at once. Default: derived from the process's
   * descriptor limit (`ulimit -n`), keeping a reserve for peers, Redis and files, and shared with
   * the HTTP ingress when there is one (`connectionCaps`): 128 under a limit of 256, 512 under
   * 1,024 with HTTP, at most 10,000.
   */
  maxConnections?: number;
  /** Most connections the HTTP ingress keeps open at once. Default: derived, as above. */
  maxHttpConnections?: number;
  /**
   * Most connections one remote address (IPv6: one /64) may hold on each listener. Default: a
   * quarter of that listener's cap. Raise it when clients arrive through one proxy.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Serve TLS (`stratuss://`) with this PEM certificate and key, read from files; peers of this
   * process then connect over TLS too, trusting `caFile` (default: the certificate itself, as for
   * a self-signed cluster certificate).
   */
  tls?: { certFile: string; keyFile: string; caFile?: string };
  /** Idle connections are closed after this long (0: never). @default 600000 (10 minutes) */
  idleTimeoutMs?: number;
  /**
   * Serve the HTTP ingress (JSON calls, DAGs, futures and keys for any language, the token as a
   * bearer token; see `GET /v1/openapi.json`) on this port of `host`; 0 picks a free one. Only on
   * a process with a scheduler. HTTPS with `tls`'s certificate when given. @default undefined (off)
   */
  httpPort?: number;
  /**
   * Statistics this process publishes to the store (`sys/stats/<id>`, read by `stratus status`,
   * `/metrics` and the monitor): how often, in ms. @default { intervalMs: 500 }
   */
  stats?: { intervalMs?: number; sampleMs?: number; ttlMs?: number };
  /**
   * Run the autoscaler on this scheduler (only the one holding the lease in the store acts):
   * executors per node, and nodes through `monitor.nodes.provider`. Only on a process with a
   * scheduler. @default undefined (off)
   */
  monitor?: MonitorOptions;
  /**
   * Serve the web dashboard at `/dashboard` of the HTTP ingress (sign-in with the token). Only
   * with `httpPort`. @default true
   */
  dashboard?: boolean;
  /**
   * The longest `close` waits on storage, all goodbyes together (deleting this process's
   * heartbeat and statistics records, releasing the autoscaler's lease, unsubscribing). With
   * storage down each would otherwise wait out the store's operation timeout in turn. Past it an
   * own store is closed, failing what is still pending at once. @default 2000
   */
  closeTimeoutMs?: number;
  /**
   * Where this process writes its lifecycle events (nodes joining and lost, retries and
   * relaunches, fencing, autoscaler decisions, storage disconnects, overload) and its functions'
   * console lines, as structured pino records with an `event` field. `stratus` passes its
   * stderr logger. @default a silent logger
   */
  log?: Logger;
  /**
   * Bounds of the function log lines this process's node keeps for `stratus logs`.
   * @default { maxLines: 10000, maxBytes: 8 MiB }
   */
  logs?: FunctionLogsOptions;
  /**
   * Export OpenTelemetry traces over OTLP/HTTP (JSON) to this collector (`http://host:4318`, or
   * the full `/v1/traces` URL): a span per run, per function invocation and per storage
   * operation, joined across nodes. @default undefined (off: no spans are made)
   */
  otlpEndpoint?: string;
}

/** The TLS material of a process, read from {@link ProcessOptions.tls}'s files. */
export interface ProcessTls {
  cert: Buffer;
  key: Buffer;
  /** What peers' certificates must chain to: `caFile`, else the certificate itself. */
  ca: Buffer;
}

/** {@link ProcessOptions} checked, with every default filled in and the TLS files read. */
export interface ResolvedProcessOptions {
  token: string;
  id: string;
  /**
   * The store: one the caller opened (and closes), or the address of one this process opens
   * and closes.
   */
  store: { open: Store } | { address: string };
  txn: Omit<TxnManagerOptions, "store" | "clock">;
  scheduler: boolean;
  executors: number;
  host: string;
  port: number;
  advertise: string | undefined;
  placement: PlacementPolicy;
  pin: Record<string, string>;
  fuse: boolean;
  heartbeatMs: number | undefined;
  expiryMs: number | undefined;
  maxRetries: number;
  maxInFlightBytes: number | undefined;
  cacheBytes: number | undefined;
  maxQueuedBytes: number | undefined;
  pool: NonNullable<NodeOptions["pool"]>;
  clockOffsetMs: number;
  lagInvalidationsMs: number | undefined;
  futureRetentionMs: number;
  /** The listeners' caps: given, or derived from the descriptor limit. */
  maxConnections: number;
  maxHttpConnections: number;
  maxConnectionsPerAddress: number | undefined;
  idleTimeoutMs: number;
  tls: ProcessTls | undefined;
  httpPort: number | undefined;
  stats: NonNullable<ProcessOptions["stats"]>;
  monitor: MonitorOptions | undefined;
  dashboard: boolean;
  closeTimeoutMs: number;
  log: Logger;
  logs: FunctionLogsOptions;
  otlpEndpoint: string | undefined;
}

const isPort = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535;

/** The contents of `file`, or INVALID_ARGUMENT naming `field` and why it cannot be read. */
function readOptionFile(field: string, file: unknown): Buffer {
  if (typeof file !== "string" || file.length === 0) {
    throw InvalidArgumentError.field(field, "must be a file path");
  }
  try {
    return readFileSync(file);
  } catch (e) {
    throw InvalidArgumentError.field(field, `cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * How a process with `tls` checks the listeners it connects to: its peers, and the scheduler a
 * node joins through. It trusts `caFile`, else its own certificate (a self-signed cluster
 * certificate). Undefined without `tls`: plain connections, and the system's CAs for any
 * `stratuss://` address.
 *
 * @example
 * ```ts
 * const tls = peerTlsOptions({ certFile: "cert.pem", keyFile: "key.pem", caFile: "ca.pem" });
 * await connect("stratuss://10.0.0.7:7400", { token, role: "node", id: "joining", tls });
 * ```
 */
export function peerTlsOptions(tls: ProcessOptions["tls"]): TlsClientOptions | undefined {
  return tls === undefined ? undefined : { ca: readFileSync(tls.caFile ?? tls.certFile) };
}

function resolveTls(tls: ProcessOptions["tls"]): ProcessTls | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== "object" || tls === null) {
    throw InvalidArgumentError.field("tls", "must be { certFile, keyFile, caFile? }");
  }
  const cert = readOptionFile("tls.certFile", tls.certFile);
  const key = readOptionFile("tls.keyFile", tls.keyFile);
  const ca = tls.caFile === undefined ? cert : readOptionFile("tls.caFile", tls.caFile);
  return { cert, key, ca };
}

/**
 * Checks every option of a process, and the rules between them, and fills in the defaults of
 * {@link PROCESS_DEFAULTS}. Throws `INVALID_ARGUMENT` naming the option at fault. Opens nothing:
 * `StratusProcess.start` calls it before starting anything.
 *
 * @example
 * ```ts
 * resolveProcessOptions({ token: "t", scheduler: false, httpPort: 8080 });
 * // InvalidArgumentError: httpPort: needs a scheduler (scheduler: true)
 * ```
 */
export function resolveProcessOptions(o: ProcessOptions): ResolvedProcessOptions {
  // Every listener's share of the descriptor limit, decided once, knowing which listeners exist.
  const caps = connectionCaps(descriptorLimit(), { http: o.httpPort !== undefined });
  if (typeof o.token !== "string" || o.token.length === 0) {
    throw new InvalidArgumentError("a cluster token is required");
  }
  const scheduler = o.scheduler ?? PROCESS_DEFAULTS.scheduler;
  if (typeof scheduler !== "boolean")
    throw InvalidArgumentError.field("scheduler", "must be true or false");
  const executors = o.executors ?? PROCESS_DEFAULTS.executors;
  if (!Number.isInteger(executors) || executors < 0) {
    throw InvalidArgumentError.field("executors", "must be an integer ≥ 0");
  }
  if (!scheduler && executors === 0) {
    throw InvalidArgumentError.field(
      "executors",
      "a process without a scheduler runs a node: give it executors ≥ 1",
    );
  }
  const id = o.id ?? `n-${randomBytes(4).toString("hex")}`;
  if (typeof id !== "string" || id.length === 0) {
    throw InvalidArgumentError.field("id", "must be a non-empty string");
  }
  if (executors > 0 && !isNodeId(id)) {
    throw InvalidArgumentError.field(
      "id",
      `${JSON.stringify(id).slice(0, 80)} cannot name a node: use 1 to 64 letters, digits, - and _`,
    );
  }
  const store = o.store ?? PROCESS_DEFAULTS.store;
  if (typeof store !== "string" && (typeof store !== "object" || store === null)) {
    throw InvalidArgumentError.field("store", "must be a Store or a store address");
  }
  const host = o.host ?? PROCESS_DEFAULTS.host;
  if (typeof host !== "string" || host.length === 0) {
    throw InvalidArgumentError.field("host", "must be a host name or address");
  }
  const port = o.port ?? PROCESS_DEFAULTS.port;
  if (!isPort(port)) throw InvalidArgumentError.field("port", "must be an integer in [0, 65535]");
  if (o.httpPort !== undefined) {
    if (!isPort(o.httpPort)) {
      throw InvalidArgumentError.field("httpPort", "must be an integer in [0, 65535]");
    }
    if (!scheduler)
      throw InvalidArgumentError.field("httpPort", "needs a scheduler (scheduler: true)");
  }
  if (o.monitor !== undefined && !scheduler) {
    throw InvalidArgumentError.field("monitor", "needs a scheduler (scheduler: true)");
  }
  const placement = o.placement ?? PROCESS_DEFAULTS.placement;
  if (!(PLACEMENT_POLICIES as readonly string[]).includes(placement)) {
    throw InvalidArgumentError.field(
      "placement",
      `must be one of ${PLACEMENT_POLICIES.join(", ")}`,
    );
  }
  const pin = o.pin ?? {};
  if (
    typeof pin !== "object" ||
    pin === null ||
    !Object.values(pin).every((node) => typeof node === "string")
  ) {
    throw InvalidArgumentError.field("pin", "must map function names to node ids");
  }
  const maxRetries = o.maxRetries ?? PROCESS_DEFAULTS.maxRetries;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw InvalidArgumentError.field("maxRetries", "must be an integer ≥ 0");
  }
  const clockOffsetMs = o.clockOffsetMs ?? PROCESS_DEFAULTS.clockOffsetMs;
  if (!Number.isFinite(clockOffsetMs)) {
    throw InvalidArgumentError.field("clockOffsetMs", "must be finite");
  }
  const closeTimeoutMs = o.closeTimeoutMs ?? PROCESS_DEFAULTS.closeTimeoutMs;
  if (!Number.isFinite(closeTimeoutMs) || closeTimeoutMs < 0) {
    throw InvalidArgumentError.field("closeTimeoutMs", "must be a finite number ≥ 0");
  }
  return {
    token: o.token,
    id,
    store: typeof store === "string" ? { address: store } : { open: store },
    txn: o.txn ?? {},
    scheduler,
    executors,
    host,
    port,
    advertise: o.advertise,
    placement,
    pin,
    fuse: o.fuse ?? PROCESS_DEFAULTS.fuse,
    heartbeatMs: o.heartbeatMs,
    expiryMs: o.expiryMs,
    maxRetries,
    maxInFlightBytes: o.maxInFlightBytes,
    cacheBytes: o.cacheBytes,
    maxQueuedBytes: o.maxQueuedBytes,
    pool: o.pool ?? {},
    clockOffsetMs,
    lagInvalidationsMs: o.lagInvalidationsMs,
    futureRetentionMs: o.futureRetentionMs ?? PROCESS_DEFAULTS.futureRetentionMs,
    maxConnections: o.maxConnections ?? caps.wire.max,
    maxHttpConnections: o.maxHttpConnections ?? caps.http.max,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress,
    idleTimeoutMs: o.idleTimeoutMs ?? PROCESS_DEFAULTS.idleTimeoutMs,
    tls: resolveTls(o.tls),
    httpPort: o.httpPort,
    stats: o.stats ?? {},
    monitor: o.monitor,
    dashboard: o.dashboard ?? PROCESS_DEFAULTS.dashboard,
    closeTimeoutMs,
    log: o.log ?? pino({ level: "silent" }),
    logs: o.logs ?? {},
    otlpEndpoint: o.otlpEndpoint,
  };
}

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { causal, repeatableRead, transactionalCausal } from "../consistency/index.js";
import type { SessionPolicyFactory } from "../consistency/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { HybridClock } from "../lattice/index.js";
import { ScheduleBook, Ticker } from "../cron/index.js";
import { Node, validateFunctionSource } from "../node/index.js";
import type { NodeOptions } from "../node/index.js";
import { Dashboard, LocalDashboardSource } from "../dashboard/index.js";
import { HttpIngress } from "../ingress/index.js";
import { Monitor } from "../monitor/index.js";
import type { MonitorOptions } from "../monitor/index.js";
import { StatsPublisher, StatsRecorder, readClusterStats } from "../stats/index.js";
import {
  Dispatcher,
  Gateway,
  Membership,
  Peers,
  Placer,
  Registry,
  RunStarter,
} from "../scheduler/index.js";
import type { PlacementPolicy } from "../scheduler/index.js";
import { openStore } from "../storage/index.js";
import type { Store } from "../storage/index.js";
import { WireServer } from "../wire/index.js";
import type { TlsClientOptions } from "../wire/index.js";
import { routeMessages } from "./router.js";
import type { DropCounts, RouteTargets } from "./router.js";
import { CloseBudget } from "./closing.js";
import { withoutStorePassword } from "./store-address.js";
import {
  FunctionTransactions,
  RunTransactionService,
  TxnManager,
  readAtomicPolicy,
} from "../txn/index.js";
import type { TxnManagerOptions } from "../txn/index.js";

/**
 * The consistency levels every node offers besides `lww`, as session policies. A level is
 * offered to callers once it is also in the scheduler's CONSISTENCY_LEVELS.
 */
const SESSION_POLICIES: readonly SessionPolicyFactory[] = [
  repeatableRead(),
  causal(),
  transactionalCausal(),
];

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
  /** Executor threads of this process's node; 0 runs no node. @default 4 */
  executors?: number;
  /** Listen address. @default 127.0.0.1 */
  host?: string;
  /** Listen port; 0 picks a free one. @default 0 */
  port?: number;
  /** Address others reach this process at, when it differs from host:port (NAT, 0.0.0.0). */
  advertise?: string;
  /** Process id (node id). @default random */
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
  /** Node cache size. @default 256 MiB */
  cacheBytes?: number;
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
  /** Most connections the listener keeps open at once. @default 10000 */
  maxConnections?: number;
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
   * executors per node, and nodes through `monitor.nodes.provider`. @default undefined (off)
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

/** `node.resize` asks a node for this many executors (a peer request; the monitor sends it). */
function resizePayload(a: unknown): number {
  const n =
    typeof a === "object" && a !== null && Object.hasOwn(a, "executors")
      ? (a as { executors: unknown }).executors
      : undefined;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 4096) {
    throw InvalidArgumentError.field("executors", "must be an integer in [1, 4096]");
  }
  return n as number;
}

/**
 * One Stratus process: a listener, and a scheduler, a node or both over one store. `stratus up`
 * is both over `memory:`; `stratus node --join` and `stratus scheduler` are one each.
 *
 * @example
 * ```ts
 * const p = await StratusProcess.start({ token: "secret", executors: 2 });
 * console.log(p.url); // stratus://127.0.0.1:41234
 * await p.close();
 * ```
 */
export class StratusProcess {
  private constructor(
    readonly id: string,
    readonly url: string,
    readonly storeAddress: string | undefined,
    private readonly parts: {
      server: WireServer;
      store: Store;
      ownStore: boolean;
      membership: Membership;
      registry: Registry;
      peers: Peers;
      dispatcher: Dispatcher;
      node: Node | undefined;
      ticker: Ticker | undefined;
      dropped: DropCounts;
      http: HttpIngress | undefined;
      stats: StatsPublisher;
      monitor: Monitor | undefined;
      dashboard: boolean;
      txn: TxnManager;
      closeTimeoutMs: number;
    },
  ) {}

  /** This process's statistics publisher (its latest record feeds `/metrics`). */
  get stats(): StatsPublisher {
    return this.parts.stats;
  }

  /** The autoscaler, when `monitor` options were given. */
  get monitor(): Monitor | undefined {
    return this.parts.monitor;
  }

  /** `http://host:port/dashboard`, when the HTTP ingress serves the dashboard. */
  get dashboardUrl(): string | undefined {
    return this.parts.http === undefined || !this.parts.dashboard
      ? undefined
      : `${this.parts.http.url}/dashboard`;
  }

  /** Ids of the live nodes this process knows of (its membership). */
  get nodeIds(): string[] {
    return this.parts.membership.list().map((m) => m.id);
  }

  /** Function and DAG definitions as this process sees them (a bounded local copy). */
  get registry(): Registry {
    return this.parts.registry;
  }

  /** This process's transaction manager (read-atomic runs and client transactions). */
  get txn(): TxnManager {
    return this.parts.txn;
  }

  /** `http://host:port` of the HTTP ingress, when `httpPort` was given. */
  get httpUrl(): string | undefined {
    return this.parts.http?.url;
  }

  /** Established connections to this process's listener (clients and peers). */
  get connections(): number {
    return this.parts.server.connections.size;
  }

  /** Messages dropped before a handler: a client sending peer messages, bad shapes, throws. */
  get dropped(): Readonly<DropCounts> {
    return this.parts.dropped;
  }

  get node(): Node | undefined {
    return this.parts.node;
  }

  /** This scheduler's ticker of scheduled invocations (none on a node-only process). */
  get ticker(): Ticker | undefined {
    return this.parts.ticker;
  }

  get store(): Store {
    return this.parts.store;
  }

  /** Runs this process started, and their counters. */
  get dispatcher(): Dispatcher {
    return this.parts.dispatcher;
  }

  static async start(o: ProcessOptions): Promise<StratusProcess> {
    if (typeof o.token !== "string" || o.token.length === 0) {
      throw new InvalidArgumentError("a cluster token is required");
    }
    const id = o.id ?? `n-${randomBytes(4).toString("hex")}`;
    const closeTimeoutMs = o.closeTimeoutMs ?? 2_000;
    if (!Number.isFinite(closeTimeoutMs) || closeTimeoutMs < 0) {
      throw InvalidArgumentError.field("closeTimeoutMs", "must be a finite number ≥ 0");
    }
    const storeAddress =
      typeof o.store === "string" ? o.store : o.store === undefined ? "memory:" : undefined;
    const store =
      typeof o.store === "object" ? o.store : await openStore(storeAddress ?? "memory:");
    const offset = o.clockOffsetMs ?? 0;
    if (!Number.isFinite(offset))
      throw InvalidArgumentError.field("clockOffsetMs", "must be finite");
    const clock = new HybridClock({
      node: id,
      ...(offset === 0 ? {} : { now: () => Date.now() + offset }),
    });
    // One transaction manager per process: it learns every commit from the store's change stream.
    const txn = await TxnManager.start({ ...o.txn, store, clock });
    const txnService = new RunTransactionService(txn, clock);
    const [membership, registry] = await Promise.all([
      Membership.open(store, { expiryMs: o.expiryMs, clock }),
      Registry.open(store, clock),
    ]);
    let node: Node | undefined;
    let gateway: Gateway | undefined;
    // cluster.info tells a joining node where the store is, but never its password, whoever asks:
    // a peer's role is only what it declared, so handing the full address to "node" peers would
    // hand it to every token holder. A node brings the password itself (--store-password-file
    // or STRATUS_STORE_PASSWORD), as every process that opens the store does.
    const shared = storeAddress === undefined ? undefined : withoutStorePassword(storeAddress);
    const info = {
      id,
      store: shared?.address ?? null,
      storeNeedsPassword: shared?.password !== undefined,
    };
    const targets: RouteTargets = {
      request: (method, a, conn) => {
        if (method === "cluster.info") return info;
        if (method === "cluster.stats") return readClusterStats(store);
        if (method === "node.resize") {
          const n = resizePayload(a);
          if (node === undefined) throw new InvalidArgumentError(`${id} runs no node`);
          return node.resize(n).then(() => ({ executors: n }));
        }
        if (gateway === undefined) {
          throw new InvalidArgumentError(
            `${id} is a node without a scheduler; send calls to a scheduler`,
          );
        }
        return gateway.handle(method, a, conn);
      },
    };
    const { handlers, local, dropped } = routeMessages(targets, (msg) =>
      process.emitWarning(`stratus ${id}: ${msg}`),
    );
    const peerTls = peerTlsOptions(o.tls);
    const tls =
      o.tls === undefined
        ? undefined
        : {
            cert: readFileSync(o.tls.certFile),
            key: readFileSync(o.tls.keyFile),
            ca: peerTls?.ca,
          };
    const server = await WireServer.listen({
      ...(tls && { tls }),
      host: o.host ?? "127.0.0.1",
      port: o.port ?? 0,
      token: o.token,
      id,
      handlers,
      clock,
      maxConnections: o.maxConnections,
      idleTimeoutMs: o.idleTimeoutMs,
    });
    const url = o.advertise ?? server.url;
    const peers = new Peers({
      ...(peerTls && { tls: peerTls }),
      id,
      role: "node",
      token: o.token,
      handlers,
      clock,
      onLost: (addr) => {
        for (const m of membership.list())
          if (m.addr === addr && m.id !== id) membership.markLost(m.id);
      },
    });
    peers.setLocal(url, local);
    const placer = new Placer(
      () => membership.list(),
      o.placement ?? "locality",
      undefined,
      o.pin ?? {},
    );
    // Latency as callers see it: every run this process started, by DAG (or function) name.
    const callerStats = new StatsRecorder();
    const dispatcher = new Dispatcher({
      addr: url,
      peers,
      placer,
      maxRetries: o.maxRetries,
      observe: (name, ms, ok) => callerStats.record(name, 0, ms, ok),
      relaunch: (meta) => txnService.relaunch(meta),
    });
    targets.onResult = (r) => dispatcher.onResult(r);
    membership.onLost((nodeId) => dispatcher.onNodeLost(nodeId));
    let ticker: Ticker | undefined;
    if (o.scheduler ?? true) {
      const schedules = new ScheduleBook({ store, clock, registry });
      ticker = await Ticker.start({
        runs: new RunStarter(dispatcher, txnService),
        id,
        store,
        clock,
        book: schedules,
        registry,
        dispatcher,
        log: (msg) => process.emitWarning(`stratus ${id}: ${msg}`),
      });
      gateway = new Gateway({
        txn: txnService,
        schedules,
        store,
        clock,
        registry,
        dispatcher,
        membership,
        validate: (name, source) => validateFunctionSource(source, { name }),
        ...(o.futureRetentionMs === undefined ? {} : { futureRetentionMs: o.futureRetentionMs }),
      });
    }
    let http: HttpIngress | undefined;
    if (o.httpPort !== undefined) {
      const gw = gateway;
      if (gw === undefined) {
        throw InvalidArgumentError.field("httpPort", "needs a scheduler (scheduler: true)");
      }
      http = await HttpIngress.listen({
        gateway: { handle: (method, payload) => gw.handle(method, payload) },
        token: o.token,
        host: o.host ?? "127.0.0.1",
        port: o.httpPort,
        ...(tls && { tls: { cert: tls.cert, key: tls.key } }),
        ...(o.dashboard !== false && {
          routes: new Dashboard({
            source: new LocalDashboardSource({
              membership,
              registry,
              recent: dispatcher.recent,
              stats: () => readClusterStats(store),
            }),
            token: o.token,
            secure: tls !== undefined,
          }),
        }),
      });
    }
    let execStats: StatsRecorder | undefined;
    if ((o.executors ?? 4) > 0) {
      const recorder = (execStats = new StatsRecorder());
      node = await Node.start({
        id,
        addr: url,
        store,
        clock,
        registry,
        membership,
        peers,
        dispatcher,
        executors: o.executors ?? 4,
        cacheBytes: o.cacheBytes,
        lagInvalidationsMs: o.lagInvalidationsMs,
        heartbeatMs: o.heartbeatMs,
        pool: {
          ...o.pool,
          observe: (fn, queueMs, totalMs, ok) => recorder.record(fn, queueMs, totalMs, ok),
        },
        fuse: o.fuse ?? true,
        sessionPolicies: [...SESSION_POLICIES, readAtomicPolicy(txn)],
        txn: new FunctionTransactions(txnService),
      });
      const n = node;
      targets.onTrigger = (t) => n.onTrigger(t);
      targets.onMessage = (m) => n.onMessage(m);
      targets.onCancel = (c) => n.onCancel(c);
      targets.onSession = (method, payload) => n.onSession(method, payload);
    }
    const statsNode = node;
    const stats = StatsPublisher.start({
      ...o.stats,
      id,
      store,
      clock,
      callers: callerStats,
      ...(execStats && { exec: execStats }),
      ...(statsNode && {
        node: () => {
          const s = statsNode.stats();
          return {
            executors: s.pool.size,
            busy: s.pool.busy,
            inflight: s.pool.queued + s.pool.posted,
            hits: s.cache.hits,
            misses: s.cache.misses,
            cacheKeys: s.cache.keys,
            cacheBytes: s.cache.bytes,
            addr: url,
          };
        },
      }),
    });
    let monitor: Monitor | undefined;
    if (o.monitor !== undefined) {
      if (gateway === undefined) {
        throw InvalidArgumentError.field("monitor", "needs a scheduler (scheduler: true)");
      }
      monitor = Monitor.start(
        {
          id,
          store,
          clock,
          log: (msg) => process.emitWarning(`stratus ${id}: ${msg}`),
          resize: async (target, executors) => {
            if (target.id === id && statsNode !== undefined) return statsNode.resize(executors);
            const conn = await peers.get(target.addr);
            await conn.request("node.resize", { executors }, { timeoutMs: 60_000 });
          },
        },
        o.monitor,
      );
    }
    return new StratusProcess(id, url, storeAddress, {
      server,
      store,
      ownStore: typeof o.store !== "object",
      membership,
      registry,
      peers,
      dispatcher,
      node,
      ticker,
      dropped,
      http,
      stats,
      monitor,
      dashboard: o.dashboard !== false,
      txn,
      closeTimeoutMs,
    });
  }

  /**
   * Stops accepting work, fails what is pending with `CLOSED`, and releases everything. Bounded:
   * what waits on storage waits at most `closeTimeoutMs` in all (see {@link ProcessOptions}).
   */
  async close(): Promise<void> {
    const p = this.parts;
    const budget = new CloseBudget(
      p.closeTimeoutMs,
      p.ownStore ? () => p.store.close() : undefined,
    );
    try {
      await budget.step(p.monitor?.close());
      await p.http?.close();
      // The ticker stops its timers at once; closing the dispatcher then fails its runs in flight
      // with CLOSED, so waiting for them does not wait for their functions.
      const tickerClosed = p.ticker?.close();
      p.dispatcher.close();
      await budget.step(tickerClosed);
      await budget.step(p.stats.close());
      await budget.step(p.node?.close());
      await p.server.close();
      await p.peers.close();
      await budget.step(Promise.all([p.membership.close(), p.registry.close(), p.txn.close()]));
    } finally {
      budget.done();
      if (p.ownStore) await p.store.close();
    }
  }
}

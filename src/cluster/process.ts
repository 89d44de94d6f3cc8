/**
 * The composition root: one process's listener and the roles it runs (a scheduler, a node or
 * both) over one store, wired together in the order they depend on each other, and closed again
 * in the order that lets work in flight fail cleanly.
 */
import { causal, repeatableRead, transactionalCausal } from "../consistency/index.js";
import type { SessionPolicyFactory } from "../consistency/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { HybridClock } from "../lattice/index.js";
import { ScheduleBook, Ticker } from "../cron/index.js";
import { Node, validateFunctionSource } from "../node/index.js";
import { Dashboard, LocalDashboardSource, scheduleViews } from "../dashboard/index.js";
import { HttpIngress } from "../ingress/index.js";
import { Monitor } from "../monitor/index.js";
import { DepartedTotals, StatsPublisher, StatsRecorder, readClusterStats } from "../stats/index.js";
import {
  Dispatcher,
  Gateway,
  Membership,
  Peers,
  Placer,
  Registry,
  RunStarter,
} from "../scheduler/index.js";
import { openStore } from "../storage/index.js";
import type { Store } from "../storage/index.js";
import { WireServer } from "../wire/index.js";
import { routeMessages } from "./router.js";
import type { DropCounts, RouteTargets } from "./router.js";
import { CloseBudget, StartedParts } from "./closing.js";
import { resolveProcessOptions } from "./options.js";
import type { ProcessOptions, ResolvedProcessOptions } from "./options.js";
import { withoutStorePassword } from "./store-address.js";
import { readClusterLogs } from "./logs.js";
import { Tracing, lifecycle } from "../observe/index.js";
import { checkLogQuery } from "../protocol/index.js";
import {
  FunctionTransactions,
  RunTransactionService,
  TxnManager,
  readAtomicPolicy,
} from "../txn/index.js";

/**
 * The consistency levels every node offers besides `lww`, as session policies. A level is
 * offered to callers once it is also in the scheduler's CONSISTENCY_LEVELS.
 */
const SESSION_POLICIES: readonly SessionPolicyFactory[] = [
  repeatableRead(),
  causal(),
  transactionalCausal(),
];

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

/** What every process runs, whatever its roles: storage, the listener, membership, runs. */
interface Core {
  server: WireServer;
  store: Store;
  /** Opened from an address by this process, so closed by it too. */
  ownStore: boolean;
  membership: Membership;
  registry: Registry;
  peers: Peers;
  dispatcher: Dispatcher;
  dropped: DropCounts;
  stats: StatsPublisher;
  txn: TxnManager;
  /** With `otlpEndpoint`. */
  tracing: Tracing | undefined;
}

/** A scheduler's parts: what clients talk to, the schedules' ticker, and its optional extras. */
interface SchedulerRole {
  gateway: Gateway;
  ticker: Ticker;
  /** With `httpPort`. */
  http: HttpIngress | undefined;
  /** With `monitor`. */
  monitor: Monitor | undefined;
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
    private readonly core: Core,
    private readonly scheduler: SchedulerRole | undefined,
    private readonly ownNode: Node | undefined,
    private readonly o: ResolvedProcessOptions,
  ) {}

  /** This process's statistics publisher (its latest record feeds `/metrics`). */
  get stats(): StatsPublisher {
    return this.core.stats;
  }

  /** The autoscaler, when `monitor` options were given. */
  get monitor(): Monitor | undefined {
    return this.scheduler?.monitor;
  }

  /** `http://host:port/dashboard`, when the HTTP ingress serves the dashboard. */
  get dashboardUrl(): string | undefined {
    const http = this.scheduler?.http;
    return http === undefined || !this.o.dashboard ? undefined : `${http.url}/dashboard`;
  }

  /** Ids of the live nodes this process knows of (its membership). */
  get nodeIds(): string[] {
    return this.core.membership.list().map((m) => m.id);
  }

  /** Function and DAG definitions as this process sees them (a bounded local copy). */
  get registry(): Registry {
    return this.core.registry;
  }

  /** This process's transaction manager (read-atomic runs and client transactions). */
  get txn(): TxnManager {
    return this.core.txn;
  }

  /** `http://host:port` of the HTTP ingress, when `httpPort` was given. */
  get httpUrl(): string | undefined {
    return this.scheduler?.http?.url;
  }

  /** Established connections to this process's listener (clients and peers). */
  get connections(): number {
    return this.core.server.connections.size;
  }

  /** Messages dropped before a handler: a client sending peer messages, bad shapes, throws. */
  get dropped(): Readonly<DropCounts> {
    return this.core.dropped;
  }

  get node(): Node | undefined {
    return this.ownNode;
  }

  /** This scheduler's ticker of scheduled invocations (none on a node-only process). */
  get ticker(): Ticker | undefined {
    return this.scheduler?.ticker;
  }

  get store(): Store {
    return this.core.store;
  }

  /** Runs this process started, and their counters. */
  get dispatcher(): Dispatcher {
    return this.core.dispatcher;
  }

  /**
   * Starts a process. Its options are checked first (see `resolveProcessOptions`), so a process
   * that cannot run as asked opens nothing; a step that fails later (a port in use, storage
   * down) closes what the steps before it started before the error reaches the caller.
   */
  static async start(options: ProcessOptions): Promise<StratusProcess> {
    const o = resolveProcessOptions(options);
    const storeAddress = "address" in o.store ? o.store.address : undefined;
    const store = "open" in o.store ? o.store.open : await openStore(o.store.address);
    const started = new StartedParts();
    if (storeAddress !== undefined) started.add(() => store.close());
    try {
      return await StratusProcess.startParts(o, store, storeAddress, started);
    } catch (e) {
      // Storage goodbyes are bounded as in close(); past the budget an own store is closed,
      // which fails whatever still waits on it.
      await started.undo(
        o.closeTimeoutMs,
        storeAddress === undefined ? undefined : () => store.close(),
      );
      throw e;
    }
  }

  private static async startParts(
    o: ResolvedProcessOptions,
    store: Store,
    storeAddress: string | undefined,
    started: StartedParts,
  ): Promise<StratusProcess> {
    const { id } = o;
    const offset = o.clockOffsetMs;
    const clock = new HybridClock({
      node: id,
      ...(offset === 0 ? {} : { now: () => Date.now() + offset }),
    });
    // Closed last (parts close in reverse), so the spans of what closes before it are sent.
    const tracing =
      o.otlpEndpoint === undefined
        ? undefined
        : await Tracing.start({ endpoint: o.otlpEndpoint, instance: id });
    if (tracing !== undefined) started.add(() => tracing.close());
    // One transaction manager per process: it learns every commit from the store's change stream.
    const txn = await TxnManager.start({ ...o.txn, store, clock });
    started.add(() => txn.close());
    const txnService = new RunTransactionService(txn, clock);
    const [membership, registry] = await Promise.all([
      started.starting(Membership.open(store, { expiryMs: o.expiryMs, clock }), (m) => m.close()),
      started.starting(Registry.open(store, clock), (r) => r.close()),
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
    // Counts of processes gone since this one started, so the totals it reports never go back.
    const departed = new DepartedTotals();
    const targets: RouteTargets = {
      request: (method, a, conn) => {
        if (method === "cluster.info") return info;
        if (method === "cluster.stats") return readClusterStats(store, { departed });
        if (method === "node.resize") {
          const n = resizePayload(a);
          if (node === undefined) throw new InvalidArgumentError(`${id} runs no node`);
          return node.resize(n).then(() => ({ executors: n }));
        }
        if (method === "node.logs") {
          const q = checkLogQuery(a);
          return { lines: node === undefined ? [] : node.readLogs(q) };
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
    const tls = o.tls;
    const server = await WireServer.listen({
      ...(tls && { tls }),
      host: o.host,
      port: o.port,
      token: o.token,
      id,
      handlers,
      clock,
      maxConnections: o.maxConnections,
      maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? Math.ceil(o.maxConnections / 4),
      idleTimeoutMs: o.idleTimeoutMs,
    });
    started.add(() => server.close());
    const url = o.advertise ?? server.url;
    const peers = new Peers({
      ...(tls && { tls: { ca: tls.ca } }),
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
    started.add(() => peers.close());
    peers.setLocal(url, local);
    const placer = new Placer(() => membership.list(), o.placement, undefined, o.pin);
    // Latency as callers see it: every run this process started, by DAG (or function) name.
    const callerStats = new StatsRecorder();
    const dispatcher = new Dispatcher({
      addr: url,
      peers,
      placer,
      maxRetries: o.maxRetries,
      maxInFlightBytes: o.maxInFlightBytes,
      observe: (name, ms, ok) => callerStats.record(name, 0, ms, ok),
      relaunch: (meta) => txnService.relaunch(meta),
      log: o.log,
      ...(tracing && { tracing }),
    });
    started.add(() => dispatcher.close());
    targets.onResult = (r) => dispatcher.onResult(r);
    membership.onLost((nodeId) => dispatcher.onNodeLost(nodeId));
    const log = o.log;
    membership.onJoin((m) =>
      lifecycle(
        log,
        "node.joined",
        { node: m.id, addr: m.addr, executors: m.executors },
        `node ${m.id} joined`,
      ),
    );
    membership.onLost((node) => lifecycle(log, "node.lost", { node }, `node ${node} lost`));
    store.onConnection?.((state, detail) =>
      lifecycle(
        log,
        state === "lost" ? "storage.disconnected" : "storage.reconnected",
        { backend: store.backend, detail },
        detail,
      ),
    );
    let role: SchedulerRole | undefined;
    if (o.scheduler) {
      const schedules = new ScheduleBook({ store, clock, registry });
      const ticker = await Ticker.start({
        runs: new RunStarter(dispatcher, txnService),
        id,
        store,
        clock,
        book: schedules,
        registry,
        dispatcher,
        log: (msg) => process.emitWarning(`stratus ${id}: ${msg}`),
      });
      started.add(() => ticker.close());
      const gw = (gateway = new Gateway({
        txn: txnService,
        schedules,
        store,
        clock,
        registry,
        dispatcher,
        membership,
        validate: (name, source) => validateFunctionSource(source, { name }),
        futureRetentionMs: o.futureRetentionMs,
        logs: (q) => readClusterLogs({ id, node, membership, peers }, q),
      }));
      role = { gateway: gw, ticker, http: undefined, monitor: undefined };
      if (o.httpPort !== undefined) {
        const http = await HttpIngress.listen({
          gateway: gw,
          token: o.token,
          host: o.host,
          port: o.httpPort,
          connections: {
            max: o.maxHttpConnections,
            perAddress: o.maxConnectionsPerAddress ?? Math.ceil(o.maxHttpConnections / 4),
          },
          ...(tls && { tls: { cert: tls.cert, key: tls.key } }),
          ...(o.dashboard && {
            routes: new Dashboard({
              source: new LocalDashboardSource({
                membership,
                registry,
                recent: dispatcher.recent,
                stats: () => readClusterStats(store, { departed }),
                store,
                schedules: () => scheduleViews(schedules),
                versions: (fn) => registry.versions(fn),
                // A run's lines, from every live node's log buffer.
                logs: async (run) =>
                  (await readClusterLogs({ id, node, membership, peers }, { run })).lines.map(
                    (l) => ({
                      at: l.ts,
                      level: l.level,
                      fn: l.fn ?? "",
                      node: l.node,
                      invocation: l.inv ?? "",
                      msg: l.msg,
                    }),
                  ),
              }),
              token: o.token,
              secure: tls !== undefined,
            }),
          }),
        });
        started.add(() => http.close());
        role.http = http;
      }
    }
    let execStats: StatsRecorder | undefined;
    if (o.executors > 0) {
      const recorder = (execStats = new StatsRecorder());
      const n = (node = await Node.start({
        id,
        addr: url,
        store,
        clock,
        registry,
        membership,
        peers,
        dispatcher,
        executors: o.executors,
        cacheBytes: o.cacheBytes,
        maxQueuedBytes: o.maxQueuedBytes,
        lagInvalidationsMs: o.lagInvalidationsMs,
        heartbeatMs: o.heartbeatMs,
        pool: {
          ...o.pool,
          observe: (fn, queueMs, totalMs, ok) => recorder.record(fn, queueMs, totalMs, ok),
        },
        fuse: o.fuse,
        observeStage: (fn) => recorder.stage(fn),
        sessionPolicies: [...SESSION_POLICIES, readAtomicPolicy(txn)],
        txn: new FunctionTransactions(txnService),
        logs: o.logs,
        log: o.log,
        ...(tracing && { tracing }),
      }));
      started.add(() => n.close());
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
            // Counted in executors, each call 1 / its concurrency: a node's capacity is its
            // executors times the concurrency of what it runs, and autoscaling sizes for that.
            busy: s.pool.load,
            inflight: s.pool.load + s.pool.queuedLoad,
            hits: s.cache.hits,
            misses: s.cache.misses,
            cacheKeys: s.cache.keys,
            cacheBytes: s.cache.bytes,
            addr: url,
          };
        },
      }),
    });
    started.add(() => stats.close());
    if (o.monitor !== undefined && role !== undefined) {
      const monitor = Monitor.start(
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
      started.add(() => monitor.close());
      monitor.onDecision((d) => {
        const { kind, target, from, to, why, inputs } = d;
        const msg = `autoscaler: ${kind} of ${target} ${from} -> ${to} (${why})`;
        lifecycle(log, "autoscaler.decision", { kind, target, from, to, why, inputs }, msg);
      });
      role.monitor = monitor;
    }
    const core: Core = {
      server,
      store,
      ownStore: storeAddress !== undefined,
      membership,
      registry,
      peers,
      dispatcher,
      dropped,
      stats,
      txn,
      tracing,
    };
    return new StratusProcess(id, url, storeAddress, core, role, node, o);
  }

  /**
   * Stops accepting work, fails what is pending with `CLOSED`, and releases everything. Bounded:
   * what waits on storage waits at most `closeTimeoutMs` in all (see {@link ProcessOptions}).
   */
  async close(): Promise<void> {
    const c = this.core;
    const s = this.scheduler;
    const budget = new CloseBudget(
      this.o.closeTimeoutMs,
      c.ownStore ? () => c.store.close() : undefined,
    );
    try {
      await budget.step(s?.monitor?.close());
      await s?.http?.close();
      // The ticker stops its timers at once; closing the dispatcher then fails its runs in flight
      // with CLOSED, so waiting for them does not wait for their functions.
      const tickerClosed = s?.ticker.close();
      c.dispatcher.close();
      await budget.step(tickerClosed);
      await budget.step(c.stats.close());
      await budget.step(this.ownNode?.close());
      await c.server.close();
      await c.peers.close();
      await budget.step(Promise.all([c.membership.close(), c.registry.close(), c.txn.close()]));
      // Last: the spans of everything above are sent (an unreachable collector costs its budget).
      await budget.step(c.tracing?.close());
    } finally {
      budget.done();
      if (c.ownStore) await c.store.close();
    }
  }
}

import { randomUUID } from "node:crypto";
import {
  BadFunctionError,
  CancelledError,
  InvalidArgumentError,
  NotFoundError,
  OverloadedError,
  TimeoutError,
  toWireError,
} from "../errors/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { LwwLattice } from "../lattice/index.js";
import { UserState } from "../state/index.js";
import type { Store } from "../storage/index.js";
import type { Connection } from "../wire/index.js";
import { checkName, validateDag } from "./dag.js";
import { singleFunctionDag } from "./dispatcher.js";
import type { Dispatcher, RunRequest } from "./dispatcher.js";
import type { Membership } from "./membership.js";
import { DEFAULT_FUTURE_RETENTION_MS, storeFuture } from "./futures.js";
import {
  CONSISTENCY_LEVELS,
  DEFAULT_FUTURE_WAIT_MS,
  KEYS,
  checkPayload,
  isConsistency,
  isGatewayMethod,
  nameMap,
} from "../protocol/index.js";
import type {
  ClusterStatus,
  DagDef,
  FunctionDef,
  FunctionInfo,
  FutureOutcome,
  FutureStarted,
  GatewayHandler,
  GatewayHandlers,
  GatewayMethod,
  GatewayRequest,
  GatewayResponse,
  RunRequestOptions,
  ScheduleInfo,
  WireRunOptions,
} from "../protocol/index.js";
import type { Registry } from "./registry.js";
import { RunStarter } from "./runs.js";
import type { RunTransactions } from "./runs.js";

export type { ScheduleInfo };

/** Checks a function's source before it is stored; throws `BAD_FUNCTION`. */
export type SourceValidator = (name: string, source: string, kind: "function" | "init") => void;

/**
 * Scheduled invocations' definitions (implemented by src/cron, passed in so that scheduler/
 * does not import it). `put` gets the checked `schedule` payload.
 */
export interface ScheduleAdmin {
  put(p: GatewayRequest<"schedule">): Promise<ScheduleInfo>;
  remove(name: unknown): Promise<boolean>;
  list(): Promise<ScheduleInfo[]>;
}

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  store: Store;
  clock: HybridClock;
  registry: Registry;
  dispatcher: Dispatcher;
  membership: Membership;
  validate: SourceValidator;
  /** Transactions; without them `read-atomic` runs and `txn.*` requests are refused. */
  txn?: RunTransactions;
  /** Scheduled invocations; without it `schedule` requests are refused. */
  schedules?: ScheduleAdmin;
  /** How long a future's result stays readable in storage. @default 3600000 (1 hour) */
  futureRetentionMs?: number;
  /**
   * Futures one connection may have pending; past it `call`s with `future: true` are refused
   * with `OVERLOADED`, so a client cannot start unbounded work by not waiting. @default 4096
   */
  maxPendingFutures?: number;
  /**
   * Reads function logs from the live nodes (the process asks each over its peer link); without
   * it `logs` requests are refused.
   */
  logs?: (q: GatewayRequest<"logs">) => Promise<GatewayResponse<"logs">>;
}

/**
 * The client-facing side of a scheduler: registration, calls, futures, key-value access and
 * status, as request handlers. Stateless apart from runs in flight.
 *
 * @example
 * ```ts
 * const gw = new Gateway({ store, clock, registry, dispatcher, membership, validate });
 * const v = await gw.handle("call", { fn: "inc", args: [encodeValue(1)] }, conn);
 * ```
 */
export class Gateway {
  private readonly state: UserState;
  private readonly retentionMs: number;
  private readonly maxPendingFutures: number;
  /** Futures started through each connection (or by connectionless callers) and not yet settled. */
  private readonly pendingFutures = new WeakMap<object, number>();
  /** Stands in for the connection of callers without one (HTTP ingress): they share one limit. */
  private readonly connectionless = {};
  /** Futures started here and still running, for `run.cancel` by future id. */
  private readonly running = new Map<string, AbortController>();

  private readonly runs: RunStarter;

  constructor(private readonly o: GatewayOptions) {
    this.state = new UserState(o.store, o.clock);
    this.runs = new RunStarter(o.dispatcher, o.txn);
    this.retentionMs = o.futureRetentionMs ?? DEFAULT_FUTURE_RETENTION_MS;
    if (!(this.retentionMs > 0) || !Number.isFinite(this.retentionMs)) {
      throw InvalidArgumentError.field("futureRetentionMs", "must be a positive number");
    }
    this.maxPendingFutures = o.maxPendingFutures ?? 4096;
  }

  /**
   * Answers one client request. Unknown methods get `INVALID_ARGUMENT`. Without `conn` (callers
   * such as the HTTP ingress), futures' outcomes are not pushed: they are read with `future.get`.
   */
  async handle(method: string, a: unknown, conn?: Connection): Promise<unknown> {
    if (!isGatewayMethod(method)) {
      throw new InvalidArgumentError(`unknown method ${method.slice(0, 64)}`);
    }
    return this.request(method, a, conn);
  }

  /** Answers one request to gateway method `method`, typed by `GatewayApi`. */
  request<M extends GatewayMethod>(
    method: M,
    a: unknown,
    conn?: Connection,
  ): Promise<GatewayResponse<M>> {
    // Exact shape first: below, every field read is an own property of the right type.
    const p = checkPayload(method, a);
    const handler: GatewayHandler<M, Connection | undefined> = this.handlers[method];
    return handler(p, conn);
  }

  /** One handler per gateway method, each given its method's checked request. */
  private readonly handlers: GatewayHandlers<Connection | undefined> = {
    "fn.register": (p) => this.registerFunction(p),
    "dag.register": async (p) => {
      const name = checkName(p.name, "DAG");
      const def = validateDag(name, p.spec);
      await Promise.all(def.functions.map((f) => this.o.registry.fn(f)));
      await this.o.registry.putDag(def);
      return { name };
    },
    call: async (p, conn) => {
      const fn = checkName(p.fn, "function");
      await this.o.registry.fn(fn);
      const req: RunRequest = { def: singleFunctionDag(fn), inputs: { [fn]: p.args ?? [] } };
      if (p.refs !== undefined && p.refs.length > 0) req.refs = { [fn]: p.refs };
      return this.start(req, p.options, conn);
    },
    "dag.call": async (p, conn) => {
      const def = await this.o.registry.dag(checkName(p.dag, "DAG"));
      // No prototype: an input named "__proto__" must be an input (and be refused), not a setter.
      const inputs = Object.assign(nameMap<Uint8Array[]>(), p.inputs);
      const req: RunRequest = { def, inputs };
      if (p.refs !== undefined) req.refs = Object.assign(nameMap<string[]>(), p.refs);
      return this.start(req, p.options, conn);
    },
    "fn.list": async () => (await this.o.registry.functionDefs()).map(functionInfo),
    "fn.describe": async (p) => {
      const def = await this.o.registry.fn(checkName(p.name, "function"));
      const dags = (await this.o.registry.dagDefs()).filter((d) => d.functions.includes(def.name));
      return { ...functionInfo(def), dags: dags.map((d) => d.name) };
    },
    "fn.remove": async (p) => {
      const name = checkName(p.name, "function");
      const users = (await this.o.registry.dagDefs()).filter((d) => d.functions.includes(name));
      if (users.length > 0) {
        throw new InvalidArgumentError(
          `function ${name} is used by DAG ${users.map((d) => d.name).join(", ")}: remove ${users.length === 1 ? "it" : "them"} first`,
          { details: { name, dags: users.map((d) => d.name) } },
        );
      }
      return { removed: await this.o.registry.removeFunction(name) };
    },
    "dag.list": () => this.o.registry.dagDefs(),
    "dag.describe": async (p): Promise<DagDef> => this.o.registry.dag(checkName(p.name, "DAG")),
    "dag.remove": async (p) => ({
      removed: await this.o.registry.removeDag(checkName(p.name, "DAG")),
    }),
    "run.cancel": async (p) => {
      const why = new CancelledError(`run ${p.id} was cancelled`, { details: { id: p.id } });
      const byFuture = this.running.get(p.id);
      if (byFuture !== undefined) byFuture.abort(why);
      else if (!this.o.dispatcher.cancel(p.id, why)) {
        throw new NotFoundError(
          `no run or future ${p.id} is in flight on this scheduler (it finished, or another scheduler runs it)`,
          { details: { id: p.id } },
        );
      }
      return { cancelled: true };
    },
    "future.delete": async (p) => {
      await this.o.store.delete(KEYS.future + futureId(p.id));
      return null;
    },
    "future.get": (p) =>
      this.futureGet(
        futureId(p.id),
        p.timeoutMs !== undefined
          ? Math.min(Math.max(p.timeoutMs, 0), 86_400_000)
          : DEFAULT_FUTURE_WAIT_MS,
      ),
    "kv.get": async (p) => (await this.state.read(p.key))?.bytes ?? null,
    "kv.getLattice": async (p) => (await this.state.readLattice(p.key)) ?? null,
    "kv.put": async (p) => {
      await this.state.put(p.key, p.value);
      return null;
    },
    "kv.merge": async (p) => {
      await this.state.merge(p.key, p.lattice);
      return null;
    },
    "kv.delete": async (p) => {
      await this.state.delete(p.key);
      return null;
    },
    status: () => this.status(),
    logs: (p) => {
      if (this.o.logs === undefined) {
        return Promise.reject(new InvalidArgumentError("this scheduler does not serve logs"));
      }
      return this.o.logs(p);
    },
    schedule: (p) => this.schedules().put(p),
    unschedule: async (p) => ({ removed: await this.schedules().remove(p.name) }),
    schedules: () => this.schedules().list(),
    "txn.begin": (p) => this.runs.transactions().handle("txn.begin", p),
    "txn.read": (p) => this.runs.transactions().handle("txn.read", p),
    "txn.abort": (p) => this.runs.transactions().handle("txn.abort", p),
    "txn.commit": (p) => this.runs.transactions().handle("txn.commit", p),
  };

  private schedules(): ScheduleAdmin {
    if (this.o.schedules === undefined) {
      throw new InvalidArgumentError("this scheduler does not keep schedules");
    }
    return this.o.schedules;
  }

  private async registerFunction(
    p: GatewayRequest<"fn.register">,
  ): Promise<GatewayResponse<"fn.register">> {
    const name = checkName(p.name, "function");
    const kind = p.kind === "module" ? "module" : "source";
    if (p.source.length === 0) {
      throw new BadFunctionError(`function ${name}: source must be a non-empty string`);
    }
    const def: Omit<FunctionDef, "version"> = { name, kind, source: p.source };
    if (p.schema !== undefined) def.schema = p.schema;
    if (kind === "source") this.o.validate(name, p.source, "function");
    else if (p.exportName !== undefined) def.exportName = p.exportName;
    else throw new BadFunctionError(`function ${name}: a module function needs its export name`);
    if (p.schema !== undefined) def.schema = p.schema;
    if (p.init !== undefined) {
      if (kind === "source") this.o.validate(name, p.init, "init");
      def.init = p.init;
    }
    if (p.timeoutMs !== undefined) {
      // Infinity or NaN would turn into a limit no node can enforce; nodes also clamp to their cap.
      if (!Number.isFinite(p.timeoutMs) || !(p.timeoutMs > 0)) {
        throw new InvalidArgumentError(
          `function ${name}: timeoutMs must be a finite positive number of milliseconds`,
        );
      }
      def.timeoutMs = p.timeoutMs;
    }
    // The shape check admits integers 1…MAX_CONCURRENCY only; nodes clamp to their own cap.
    if (p.concurrency !== undefined) def.concurrency = p.concurrency;
    const full = await this.o.registry.putFunction(def);
    return { name, version: full.version };
  }

  private async start(
    req: RunRequest,
    raw: WireRunOptions | undefined,
    conn?: Connection,
  ): Promise<Uint8Array | FutureStarted> {
    const options = runOptions(raw);
    // A read-atomic run is one transaction named after the request: a retry of the request finds
    // the result its first attempt committed instead of running again.
    const done = await this.runs.prepare(req, options);
    if (done !== undefined) {
      if (options.future !== true) return done.result;
      // A future of a request that committed already: stored like any other, so every reader
      // of its id (another client, this one after a reconnect) finds it.
      const id = randomUUID();
      await storeFuture(
        this.o.store,
        this.o.clock,
        id,
        { ok: true, v: done.result },
        this.retentionMs,
      );
      setImmediate(() => push(conn, { id, ok: true, v: done.result }));
      return { future: id };
    }
    if (options?.future !== true) return this.o.dispatcher.run(req);
    const owner = conn ?? this.connectionless;
    const pending = this.pendingFutures.get(owner) ?? 0;
    if (pending >= this.maxPendingFutures) {
      throw new OverloadedError(
        `${pending} futures started on this connection are still pending; wait for some first`,
      );
    }
    const id = randomUUID();
    // Marked pending before it starts, so a reader of the id waits for it instead of being
    // told no such future exists; the outcome's write (later on every clock) replaces it.
    await storeFuture(
      this.o.store,
      this.o.clock,
      id,
      { ok: false, pending: true },
      this.retentionMs,
    );
    this.pendingFutures.set(owner, pending + 1);
    req.future = id;
    req.session = { ...req.session, futureTtlMs: this.retentionMs };
    const abort = new AbortController();
    req.signal = abort.signal;
    this.running.set(id, abort);
    const settled = (): void => {
      this.running.delete(id);
      this.pendingFutures.set(owner, (this.pendingFutures.get(owner) ?? 1) - 1);
    };
    this.o.dispatcher.run(req).then(
      (v) => {
        settled();
        push(conn, { id, ok: true, v });
      },
      async (err: unknown) => {
        settled();
        const e = toWireError(err);
        push(conn, { id, ok: false, e });
        const outcome: FutureOutcome = { ok: false, e };
        await storeFuture(this.o.store, this.o.clock, id, outcome, this.retentionMs).catch(
          () => undefined,
        );
      },
    );
    return { future: id };
  }

  /**
   * Waits for a future's outcome in storage: read, else subscribe and wait for its write.
   * `NOT_FOUND` at once when there is no record at all: nobody started it, or it expired.
   */
  private async futureGet(id: string, timeoutMs: number): Promise<FutureOutcome> {
    const key = KEYS.future + id;
    let done!: (o: FutureOutcome) => void;
    const arrived = new Promise<FutureOutcome>((r) => (done = r));
    const sub = await this.o.store.subscribe(key, (e) => {
      // A failed read is no answer; the next change or the deadline decides.
      if (e.kind !== "delete") {
        this.readFuture(key).then(
          (o) => o && done(o),
          () => undefined,
        );
      }
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const now = await this.readFuture(key, true);
      if (now === undefined) {
        throw new NotFoundError(`no future ${id}: never started here, or its outcome expired`, {
          details: { id },
        });
      }
      if (now.pending !== true) return now;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`future ${id} not resolved within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return await Promise.race([arrived, timeout]);
    } finally {
      clearTimeout(timer);
      await sub.close();
    }
  }

  /** The stored outcome; a pending record reads as none unless `withPending`. */
  private async readFuture(key: string, withPending = false): Promise<FutureOutcome | undefined> {
    const l = await this.o.store.get(key);
    if (l === undefined) return undefined;
    const o = (l as LwwLattice).value<FutureOutcome>();
    return o.pending === true && !withPending ? undefined : o;
  }

  private async status(): Promise<ClusterStatus> {
    const [functions, dags] = await Promise.all([
      this.o.registry.listFunctions(),
      this.o.registry.listDags(),
    ]);
    const nodes = this.o.membership.list().map((m) => ({
      id: m.id,
      addr: m.addr,
      executors: m.executors,
      busy: m.busy,
      queued: m.queued,
      cachedKeys: m.cached.length,
    }));
    return {
      backend: this.o.store.backend,
      nodes,
      functions,
      dags,
      inFlight: this.o.dispatcher.inFlight,
    };
  }
}

/**
 * Pushes a future's outcome. It runs in a promise callback nobody awaits, so it must not throw:
 * a push that cannot be sent (too large, connection gone) leaves the client to read the future
 * from storage, which the sink wrote before answering.
 */
function push(conn: Connection | undefined, outcome: FutureOutcome & { id: string }): void {
  try {
    // Dropped (it waited too long, or did not fit, behind a burst): the client must not wait for
    // it forever, so it learns so in a small push instead and can read the stored outcome by id.
    conn?.notify("future", outcome, (err) => {
      const message = `${err.message}; the outcome is stored: read it with cloud.future(${JSON.stringify(outcome.id)})`;
      const e = { code: err.code, message, retryable: true };
      conn.notify("future", { id: outcome.id, ok: false, e }, () => undefined);
    });
  } catch {
    // VALUE_TOO_LARGE: the client's future.get reads the stored outcome instead.
  }
}

/** What `fn.list` tells of a definition: everything but the source itself. */
function functionInfo(def: FunctionDef): FunctionInfo {
  const out: FunctionInfo = {
    name: def.name,
    kind: def.kind,
    version: def.version,
    init: def.init !== undefined,
    sourceLength: def.source.length,
  };
  if (def.exportName !== undefined) out.exportName = def.exportName;
  if (def.timeoutMs !== undefined) out.timeoutMs = def.timeoutMs;
  if (def.schema !== undefined) out.schema = def.schema;
  return out;
}

/** Run options from the wire, checked: a bad deadline is refused, not turned into NaN timers. */
function runOptions(o: WireRunOptions | undefined): RunRequestOptions {
  if (o === undefined) return {};
  const out: RunRequestOptions = {};
  if (o.timeoutMs !== undefined) {
    if (!(o.timeoutMs > 0) || o.timeoutMs > 86_400_000) {
      throw new InvalidArgumentError("timeoutMs must be a number of milliseconds, at most a day");
    }
    out.timeoutMs = o.timeoutMs;
  }
  if (o.future === true) out.future = true;
  if (o.consistency !== undefined) {
    if (!isConsistency(o.consistency)) {
      throw new InvalidArgumentError(
        `consistency ${JSON.stringify(o.consistency)} is not available; use one of ${CONSISTENCY_LEVELS.join(", ")}`,
      );
    }
    out.consistency = o.consistency;
  }
  if (o.requestId !== undefined) out.requestId = o.requestId;
  if (o.traceparent !== undefined) out.traceparent = o.traceparent;
  if (o.retry === true) out.retry = true;
  return out;
}

function futureId(v: string): string {
  if (v.length === 0 || v.length > 64) {
    throw InvalidArgumentError.field("id", "must be a future id");
  }
  return v;
}

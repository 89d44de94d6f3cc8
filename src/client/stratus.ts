import { randomUUID } from "node:crypto";
import {
  BadFunctionError,
  ClosedError,
  InvalidArgumentError,
  reaction,
  toWireError,
  withCallerStack,
} from "../errors/index.js";
import type { LocalOptions } from "../local/index.js";
import { HybridClock, decodeLattice, decodeValue, encodeLattice } from "../lattice/index.js";
import type { Lattice } from "../lattice/index.js";
import type {
  ArgsOf,
  CallName,
  Callable,
  Context,
  AnyFunctionRef,
  Handler,
  NameOf,
  ResultOf,
  WithRefs,
} from "../function/index.js";
import {
  DEFAULT_FUTURE_WAIT_MS,
  DEFAULT_RUN_TIMEOUT_MS,
  REPLY_SLACK_MS,
  isFuturePush,
  nameMap,
} from "../protocol/index.js";
import type {
  ClusterStatus,
  Consistency,
  DagSpec,
  GatewayMethod,
  GatewayRequest,
  GatewayResponse,
  LogQuery,
  LogsAnswer,
  ScheduleInfo,
  WireRunOptions,
} from "../protocol/index.js";
import { connect } from "../wire/index.js";
import type { Connection, TlsClientOptions } from "../wire/index.js";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Future } from "./future.js";
import { functionSchema } from "./schemas.js";
import type { SchemaOptions } from "./schemas.js";
import { DagBuilder } from "./dag.js";
import type { DagInputs, DagResult } from "./dag.js";
import { checkedArgs, dagHandle, functionHandle, moduleClient, nameOf } from "./handles.js";
import type {
  DagHandle,
  DagRef,
  DagResultOf,
  FunctionHandle,
  HandleOf,
  InputsOf,
  ModuleClient,
} from "./handles.js";
// The file, not the txn index: the client loads no storage or server code.
import { ClientTransactions } from "../txn/handle.js";
import { ClusterAdmin } from "./admin.js";
import type { Outcome } from "./future.js";
import {
  checkConcurrency,
  checkTimeout,
  encodeArg,
  encodeArgs,
  futureId,
  result,
  scheduledArgs,
} from "./args.js";
import type { Arg, Outgoing } from "./args.js";

/**
 * Options of `register`. `input` and `output` take Standard Schema validators (see
 * {@link SchemaOptions}): with `input`, the handler's parameters and the handle's arguments are
 * typed by it, and the handle checks its arguments before they leave.
 */
export interface RegisterOptions<State = unknown> extends SchemaOptions {
  /** Runs once per executor; its result is `ctx.state`. Shipped as source like the function. */
  init?: (ctx: Context) => State | Promise<State>;
  /**
   * Time limit per invocation: finite and above zero (else `INVALID_ARGUMENT`); each node clamps
   * it to its `--max-timeout-ms`. @default 60000
   */
  timeoutMs?: number;
  /**
   * How many invocations of this function one executor runs at once while they await (storage,
   * nested calls, messages, timers): an integer from 1 to 1024 (else `INVALID_ARGUMENT`); each
   * node clamps it to its own cap (16 by default). `1` gives every invocation an executor to
   * itself: its memory limit exactly, and no other call's failure to share.
   * @default 8
   */
  concurrency?: number;
}

/** Options of a call. */
export interface CallOptions {
  /** Deadline of the whole run. @default 120000 */
  timeoutMs?: number;
  /**
   * What every read and write of the run (and of its nested calls) sees: `"lww"`,
   * `"repeatable-read"`, `"causal"`, `"transactional-causal"` or `"read-atomic"`; a level the
   * cluster does not offer is `INVALID_ARGUMENT`. @default the DAG's registered level, else "lww"
   */
  consistency?: Consistency;
  /**
   * The id of this logical request. A `read-atomic` run is one transaction named after it: the
   * client retries such a run with the same id (after `CLOSED`, `NODE_LOST`, `TXN_ABORTED`, …),
   * and a retry returns the result the first commit recorded instead of running again. Pass your
   * own to make retries across client restarts exactly-once too. @default a fresh UUID per call
   */
  requestId?: string;
  /** Retries of a `read-atomic` run after a retryable error (same request id). @default 3 */
  retries?: number;
  /**
   * W3C `traceparent` of the caller's span (`00-<trace id>-<span id>-<flags>`): when the cluster
   * traces (`--otlp-endpoint`), the run's spans join that trace. A malformed one is
   * `INVALID_ARGUMENT`.
   */
  traceparent?: string;
}

/** Options of {@link Stratus.connect}. */
export interface ConnectOptions {
  token: string;
  /**
   * For `stratuss://` clusters: the CA to trust (PEM, e.g. a self-signed cluster certificate) or
   * `rejectUnauthorized: false` to skip verification (testing only).
   */
  tls?: TlsClientOptions;
  /** Connect timeout. @default 5000 */
  timeoutMs?: number;
}

/** Where and how the client connects. */
interface Target {
  url: string;
  token: string;
  timeoutMs?: number;
  tls?: TlsClientOptions;
}

export type { LocalOptions };

/** A cluster this client started and stops when it closes (see `stratus/local`). */
interface Embedded {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The Stratus client: register functions and DAGs, call them, and read and write state.
 *
 * @example
 * ```ts
 * import { Stratus, dag, ref } from "stratus";
 * const cloud = await Stratus.local({ executors: 4 });
 * const inc = await cloud.register("inc", async (ctx, x: number) => x + 1);
 * const square = await cloud.register("square", (ctx, x: number) => x * x);
 * const pipeline = await cloud.registerDag("pipeline", dag(inc).to(square));
 * await pipeline.call({ inc: [1] }); // 4
 * await cloud.put("k", 5);
 * await inc.call(ref("k")); // 6
 * await cloud.call("inc", [1]); // 2, by name: unknown
 * await cloud.close();
 * ```
 */
export class Stratus {
  private readonly futures = new Map<string, (o: Outcome) => void>();
  private readonly early = new Map<string, Outcome>();

  private current: Promise<Connection> | undefined;
  private closing = false;
  /**
   * Sent with every request and moved past every reply, so what this client does after seeing
   * a result is ordered after it, on any scheduler and node.
   */
  private readonly clock = new HybridClock();

  /**
   * Read-atomic transactions: `const tx = await cloud.txn.begin()`, then `tx.get`, `tx.put`,
   * `tx.merge`, `tx.delete`, and `tx.commit()` or `tx.abort()`.
   */
  readonly txn = new ClientTransactions((method, payload) => this.rpc(method, payload));

  /** Registered functions and DAGs (list, describe, remove) and run cancels. */
  readonly admin = new ClusterAdmin((method, payload) => this.rpc(method, payload));

  private constructor(
    private readonly target: Target,
    private readonly embedded: Embedded | undefined,
  ) {}

  /**
   * Starts an embedded cluster (memory store, scheduler, node) and connects to it. The server is
   * loaded now, not when the client is imported: this is `local()` of `stratus/local`.
   */
  static async local(options: LocalOptions = {}): Promise<Stratus> {
    const { local } = await import("../local/index.js");
    return local(options);
  }

  /**
   * Connects to a cluster this process started, and stops it on {@link close}.
   * @internal For `stratus/local`.
   */
  static embedded(url: string, token: string, cluster: Embedded): Promise<Stratus> {
    return Stratus.attach({ url, token }, cluster);
  }

  /**
   * Connects to a running cluster (`stratus up`, or any scheduler of one). A dropped connection
   * is opened again on the next call; calls in flight when it dropped fail with `CLOSED`
   * (retryable), and futures still pending are read again from storage.
   */
  static connect(url: string, options: ConnectOptions): Promise<Stratus> {
    const target: Target = { url, token: options.token };
    if (options.timeoutMs !== undefined) target.timeoutMs = options.timeoutMs;
    if (options.tls !== undefined) target.tls = options.tls;
    return Stratus.attach(target, undefined);
  }

  private static async attach(target: Target, embedded: Embedded | undefined): Promise<Stratus> {
    const self = new Stratus(target, embedded);
    await self.connection(); // a wrong token or address fails here, not at the first call
    return self;
  }

  /** The open connection, opening one if there is none (first use, or after a drop). */
  private connection(): Promise<Connection> {
    if (this.closing)
      return Promise.reject(new ClosedError("this client is closed", { retryable: false }));
    if (this.current !== undefined) return this.current;
    const { url, token, timeoutMs, tls } = this.target;
    const opening = connect(url, {
      ...(tls && { tls }),
      token,
      role: "client",
      id: `client-${randomUUID()}`,
      timeoutMs,
      clock: this.clock,
      handlers: {
        notify: (method, a) => {
          if (method === "future" && isFuturePush(a)) this.settle(a);
        },
      },
    });
    this.current = opening;
    opening.then(
      (c) =>
        void c.closed.then(() => {
          if (this.current === opening) this.current = undefined;
          this.refetchFutures();
        }),
      () => {
        if (this.current === opening) this.current = undefined;
      },
    );
    return opening;
  }

  /** Sends gateway request `method`, typed by `GatewayApi`. */
  private async rpc<M extends GatewayMethod>(
    method: M,
    payload: GatewayRequest<M> | Outgoing<GatewayRequest<M>>,
    options?: { timeoutMs?: number },
  ): Promise<GatewayResponse<M>> {
    // Made before the first await: its frames are the caller's, for a function error's stack.
    const site = new Error();
    const c = await this.connection();
    try {
      return await c.request<GatewayResponse<M>>(method, payload, options);
    } catch (e) {
      // The listener closed the connection for idleness as this request left: it was not handled
      // (a closing listener answers nothing), so it is safe to send once more on a new connection.
      if (!(e instanceof ClosedError) || !c.closedForIdleness) throw withCallerStack(e, site);
      if (this.current !== undefined && (await this.current) === c) this.current = undefined;
      return (await this.connection())
        .request<GatewayResponse<M>>(method, payload, options)
        .catch((e2: unknown) => {
          throw withCallerStack(e2, site);
        });
    }
  }

  /** The embedded cluster's address, when started with {@link Stratus.local}. */
  get url(): string | undefined {
    return this.embedded?.url;
  }

  /**
   * Registers (or replaces) a function and returns its handle, typed by the function: the
   * handle's `call` takes its parameters after the ctx and resolves to its result. Every
   * parameter needs a type: one left out is `unknown`, so code that uses it untyped does not
   * compile. The source is checked now: `BAD_FUNCTION` says why not.
   *
   * @example
   * ```ts
   * const double = await cloud.register("double", async (ctx, x: number) => x * 2);
   * await double.call(21); // 42, a number; double.call("x") does not compile
   * ```
   */
  register<
    const N extends string,
    I extends StandardSchemaV1<unknown[], unknown[]>,
    R,
    O extends StandardSchemaV1<Awaited<R>, unknown> = StandardSchemaV1<Awaited<R>>,
    State = undefined,
  >(
    name: N,
    fn: (ctx: Context<State>, ...args: StandardSchemaV1.InferOutput<I>) => R,
    options: RegisterOptions<State> & { input: I; output?: O },
  ): Promise<FunctionHandle<StandardSchemaV1.InferInput<I>, StandardSchemaV1.InferOutput<O>, N>>;
  register<const N extends string, F extends Handler<State>, State = undefined>(
    name: N,
    fn: F,
    // No input schema here (the overload above types by it); an output must fit the result.
    options?: RegisterOptions<State> & {
      input?: undefined;
      output?: StandardSchemaV1<Awaited<ReturnType<F>>, unknown>;
    },
  ): Promise<HandleOf<F, N>>;
  async register(
    name: string,
    fn: Handler,
    options: RegisterOptions<unknown> = {},
  ): Promise<FunctionHandle> {
    if (typeof fn !== "function") throw new BadFunctionError(`${name}: not a function`);
    checkTimeout(name, options.timeoutMs);
    checkConcurrency(name, options.concurrency);
    const req: GatewayRequest<"fn.register"> = { name, source: fn.toString() };
    if (options.init !== undefined) req.init = options.init.toString();
    if (options.timeoutMs !== undefined) req.timeoutMs = options.timeoutMs;
    if (options.concurrency !== undefined) req.concurrency = options.concurrency;
    const schema = functionSchema(options);
    if (schema !== undefined) req.schema = schema;
    await this.rpc("fn.register", req);
    return functionHandle(this, name, options.input);
  }

  /**
   * The handle of a function registered elsewhere (by `stratus deploy`, another client), typed
   * by its code's type or its handle's. Nothing is checked with the cluster until it is called.
   *
   * @example
   * ```ts
   * const double = cloud.handle<typeof import("./functions.js").double>("double");
   * await double.call(21); // number
   * ```
   */
  handle<F extends Callable, const N extends string = string>(name: N): HandleOf<F, N> {
    return functionHandle(this, nameOf(name, "handle(name)") as N);
  }

  /**
   * A module's functions as methods, for a module deployed with `stratus deploy`: each call is
   * `cloud.call(exportName, args)`, typed by the module's own declarations.
   *
   * @example
   * ```ts
   * const fns = cloud.client<typeof import("./functions.js")>();
   * await fns.double(21); // number; fns.double("x") does not compile
   * ```
   */
  client<M>(): ModuleClient<M> {
    return moduleClient<M>(this);
  }

  /** Registers an export of a bundled module (what `stratus deploy` does for every export). */
  async registerModule(
    name: string,
    bundle: string,
    exportName: string,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    checkTimeout(name, options.timeoutMs);
    await this.rpc("fn.register", {
      name,
      kind: "module",
      source: bundle,
      exportName,
      ...options,
    });
  }

  /**
   * Registers a DAG and returns its handle. Built with {@link dag}, the handle is typed: its
   * inputs are keyed by the source functions' names and it resolves to the sink's result. A
   * `DagSpec` of names gives an untyped handle: results flow along `edges`, and a function with
   * several upstreams gets their results in edge order.
   *
   * @example
   * ```ts
   * const pipeline = await cloud.registerDag("pipeline", dag(inc).to(square));
   * await pipeline.call({ inc: [1] }); // 4
   * await cloud.registerDag("p2", { functions: ["inc", "square"], edges: [["inc", "square"]] });
   * ```
   */
  registerDag<const N extends string, D extends DagBuilder>(
    name: N,
    spec: D,
  ): Promise<DagHandle<DagInputs<D>, DagResult<D>, N>>;
  registerDag<const N extends string>(name: N, spec: DagSpec): Promise<DagHandle>;
  async registerDag(name: string, spec: DagSpec | DagBuilder): Promise<unknown> {
    const wire = spec instanceof DagBuilder ? spec.spec() : spec;
    await this.rpc("dag.register", { name, spec: wire });
    return dagHandle(this, name);
  }

  /**
   * Calls one function: by its handle (typed by it), by name with its handle's type
   * (`call<typeof double>("double", [21])`), or by a name known only at run time (its result
   * `unknown`, or the type the caller asserts).
   *
   * @example
   * ```ts
   * await cloud.call(double, [21]); // number
   * await cloud.call<number>("inc", [ref("k")]);
   * ```
   */
  call<F extends AnyFunctionRef>(
    fn: F,
    args: WithRefs<ArgsOf<F>>,
    options?: CallOptions,
  ): Promise<ResultOf<F>>;
  call<F extends Callable = never>(
    name: NameOf<F>,
    args: WithRefs<ArgsOf<F>>,
    options?: CallOptions,
  ): Promise<ResultOf<F>>;
  call<T = unknown>(name: CallName<T>, args?: unknown[], options?: CallOptions): Promise<T>;
  async call(
    fn: string | { readonly name: string },
    args: unknown[] = [],
    options: CallOptions = {},
  ): Promise<unknown> {
    const name = nameOf(fn, "call's function");
    const { encoded, refs } = encodeArgs(await checkedArgs(fn, args));
    const out = await this.withRetries(options, (wire) =>
      this.rpc(
        "call",
        { fn: name, args: encoded, refs, options: wire },
        { timeoutMs: (options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS) + REPLY_SLACK_MS },
      ),
    );
    return decodeValue(result(out), IN_PLACE);
  }

  /**
   * Runs a DAG: `inputs` gives each source function its arguments. By handle, the inputs and
   * result are typed by it; by name, the result is `unknown` or the type the caller asserts.
   */
  callDag<D extends DagRef>(
    dag: D,
    inputs: InputsOf<D>,
    options: CallOptions & { future: true },
  ): Promise<Future<DagResultOf<D>>>;
  callDag<D extends DagRef>(
    dag: D,
    inputs: InputsOf<D>,
    options?: CallOptions & { future?: false },
  ): Promise<DagResultOf<D>>;
  callDag<T = unknown>(
    name: string,
    inputs: Record<string, unknown[]>,
    options: CallOptions & { future: true },
  ): Promise<Future<T>>;
  callDag<T = unknown>(
    name: string,
    inputs?: Record<string, unknown[]>,
    options?: CallOptions & { future?: false },
  ): Promise<T>;
  async callDag(
    dag: string | DagRef,
    inputs: object = {},
    options: CallOptions & { future?: boolean } = {},
  ): Promise<unknown> {
    const name = nameOf(dag, "callDag's DAG");
    const enc = nameMap<Arg[]>();
    const refs = nameMap<string[]>();
    for (const [fn, args] of Object.entries(inputs as Record<string, unknown>)) {
      if (!Array.isArray(args))
        throw new InvalidArgumentError(`inputs.${fn} must be an array of arguments`);
      const e = encodeArgs(args);
      enc[fn] = e.encoded;
      if (e.refs.length > 0) refs[fn] = e.refs;
    }
    const out = await this.withRetries(options, (wire) =>
      this.rpc(
        "dag.call",
        { dag: name, inputs: enc, refs, options: wire },
        { timeoutMs: (options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS) + REPLY_SLACK_MS },
      ),
    );
    if (options.future === true) {
      const id = futureId(out);
      return new Future(id, this.awaitFuture(id), this.deleteFuture);
    }
    return decodeValue(result(out), IN_PLACE);
  }

  /**
   * Sends a call. A `read-atomic` one gets a request id, kept across its retries: the cluster
   * turns a retry of a request that committed into that commit's result, so retrying after an
   * error of unknown outcome (a lost connection, a lost node) is safe.
   */
  private async withRetries<T>(
    options: CallOptions & { future?: boolean },
    send: (wire: WireRunOptions) => Promise<T>,
  ): Promise<T> {
    const { retries, ...wire } = options;
    if (options.consistency !== "read-atomic") return send(wire);
    const limit = retries ?? 3;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw InvalidArgumentError.field("retries", "must be a non-negative integer");
    }
    const withId = { ...wire, requestId: options.requestId ?? randomUUID() };
    for (let attempt = 0; ; attempt++) {
      try {
        // Marked retries fence the attempts before them; the first send needs no fence.
        return await send(attempt === 0 ? withId : { ...withId, retry: true });
      } catch (e) {
        // Resent with the same request id: a relaunch fences the attempt before it.
        if (attempt >= limit || reaction(e) === "fail") throw e;
      }
    }
  }

  /** A future by id, e.g. one another client started. */
  future<T = unknown>(id: string, options: { timeoutMs?: number } = {}): Future<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_FUTURE_WAIT_MS;
    const o = this.rpc("future.get", { id, timeoutMs }, { timeoutMs: timeoutMs + REPLY_SLACK_MS });
    return new Future<T>(id, o, this.deleteFuture);
  }

  /** Deletes a future's stored result (see `Future.delete`). */
  readonly deleteFuture = async (id: string): Promise<void> => {
    await this.rpc("future.delete", { id });
  };

  /** Writes `value` under `key` as a last-writer-wins value. */
  async put(key: string, value: unknown): Promise<void> {
    await this.rpc("kv.put", { key, value: encodeArg(value) });
  }

  /**
   * Merges a lattice into `key`: the key keeps the merge of everything written to it, so
   * concurrent writers never lose an update. Merging another kind than the key holds fails with
   * `LATTICE_TYPE_MISMATCH`, naming the key and both kinds.
   *
   * @example
   * ```ts
   * import { lattices } from "stratus";
   * await cloud.merge("visits", lattices.counter(1));
   * await cloud.get("visits"); // 1
   * ```
   */
  async merge(key: string, value: Lattice): Promise<void> {
    if (typeof value !== "object" || value === null || typeof value.merge !== "function") {
      throw new InvalidArgumentError("merge takes a lattice: build one with lattices.counter(1) …");
    }
    await this.rpc("kv.merge", { key, lattice: encodeLattice(value) });
  }

  /**
   * The plain value of `key`: a counter's number, a set's elements, a map's fields as an object,
   * a last-writer-wins value itself; `undefined` when the key holds nothing.
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const b = await this.rpc("kv.get", { key });
    return b === null ? undefined : decodeValue<T>(b, IN_PLACE);
  }

  /** The lattice `key` holds (e.g. a counter's totals per writer), or `undefined`. */
  async getLattice(key: string): Promise<Lattice | undefined> {
    const b = await this.rpc("kv.getLattice", { key });
    return b === null ? undefined : decodeLattice(b);
  }

  async delete(key: string): Promise<void> {
    await this.rpc("kv.delete", { key });
  }

  /**
   * Calls a function or runs a DAG at every tick of a cron expression (five fields, or six with
   * seconds first; times in UTC), once per tick across the whole cluster. Each call gets one
   * more trailing argument, `{ schedule, tick }` (tick: epoch ms); for a DAG, every function named
   * in `inputs` gets it. A schedule of the same name is replaced. Ticks that fall while no
   * scheduler runs are skipped, not replayed.
   *
   * @throws INVALID_ARGUMENT for a bad name or cron expression, NO_SUCH_FUNCTION / NO_SUCH_DAG.
   * @example
   * ```ts
   * await cloud.schedule("report", "0 0 * * * *", { fn: "report", args: ["daily"] });
   * await cloud.schedule("tick", "* * * * * *", { dag: "pipeline", inputs: { inc: [1] } });
   * ```
   */
  async schedule(name: string, cron: string, target: ScheduleTarget): Promise<ScheduleInfo> {
    const t = target as Partial<Record<"fn" | "dag" | "args" | "inputs", unknown>>;
    if (typeof t.dag === "string") {
      const inputs = nameMap<Arg[]>();
      for (const [fn, args] of Object.entries((t.inputs ?? {}) as Record<string, unknown>)) {
        if (!Array.isArray(args))
          throw new InvalidArgumentError(`inputs.${fn} must be an array of arguments`);
        inputs[fn] = scheduledArgs(args);
      }
      return this.rpc("schedule", { name, cron, dag: t.dag, inputs });
    }
    const args = scheduledArgs((t.args ?? []) as unknown[]);
    // A JavaScript caller's fn of another type goes as it is: the gateway refuses it by shape.
    return this.rpc("schedule", { name, cron, fn: t.fn as string, args });
  }

  /** Removes a schedule; false when there was none. Ticks already claimed still run. */
  async unschedule(name: string): Promise<boolean> {
    return (await this.rpc("unschedule", { name })).removed;
  }

  /** Every schedule, by name, with its next tick. */
  schedules(): Promise<ScheduleInfo[]> {
    return this.rpc("schedules", {});
  }

  /** Nodes, their executors and load, registered functions and DAGs. */
  status(): Promise<ClusterStatus> {
    return this.rpc("status", {});
  }

  /**
   * The `console.*` lines functions wrote, as the live nodes still keep them (each node keeps
   * its latest lines, bounded by count and bytes), oldest first. `after` maps a node id to the
   * last `seq` already read from it, to read only what came since.
   *
   * @example
   * ```ts
   * const { lines } = await cloud.logs({ fn: "inc" });
   * for (const l of lines) console.log(l.node, l.run, l.level, l.msg);
   * ```
   */
  logs(query: LogQuery = {}): Promise<LogsAnswer> {
    return this.rpc("logs", query);
  }

  /** Closes the connection (and the embedded cluster, if this client started one). */
  async close(): Promise<void> {
    this.closing = true;
    const c = this.current;
    this.current = undefined;
    if (c !== undefined) await c.then((conn) => conn.close()).catch(() => undefined);
    this.failFutures();
    await this.embedded?.close();
  }

  private awaitFuture(id: string): Promise<Outcome> {
    const early = this.early.get(id);
    if (early !== undefined) {
      this.early.delete(id);
      return Promise.resolve(early);
    }
    return new Promise((resolve) => this.futures.set(id, resolve));
  }

  private settle(o: Outcome & { id: string }): void {
    const f = this.futures.get(o.id);
    if (f !== undefined) {
      this.futures.delete(o.id);
      f(o);
    } else {
      this.early.set(o.id, o);
    }
  }

  /**
   * The connection that would have pushed these futures dropped: ask for each again (over a new
   * connection), which answers from storage once the sink has stored the result.
   */
  private refetchFutures(): void {
    if (this.closing) return this.failFutures();
    for (const [id, resolve] of this.futures) {
      this.futures.delete(id);
      this.rpc(
        "future.get",
        { id, timeoutMs: DEFAULT_FUTURE_WAIT_MS },
        { timeoutMs: DEFAULT_FUTURE_WAIT_MS + REPLY_SLACK_MS },
      ).then(
        (o) => resolve(o),
        (err: unknown) => resolve({ ok: false, e: toWireError(err) }),
      );
    }
  }

  private failFutures(): void {
    const e = {
      code: "CLOSED",
      message: "the client was closed before the future resolved; read it with cloud.future(id)",
      retryable: true,
    } as const;
    for (const f of this.futures.values()) f({ ok: false, e });
    this.futures.clear();
  }
}

/**
 * Results are decoded in place: their bytes belong to the reply frame they came in, which
 * nothing else reads, so Buffers and aligned typed arrays in them are views, not copies.
 */
const IN_PLACE = { inPlace: true } as const;

/** What `schedule` runs: a function with its arguments, or a DAG with its inputs. */
export type ScheduleTarget =
  { fn: string; args?: unknown[] } | { dag: string; inputs?: Record<string, unknown[]> };

export type { ClusterStatus, ScheduleInfo };

/**
 * Deploying a flow (registering its stage functions and DAG) and running it: `FlowApp`.
 */
import {
  BadFlowError,
  FunctionError,
  InvalidArgumentError,
  SchemaMismatchError,
  UnknownColumnError,
} from "../errors/index.js";
import type { StratusError } from "../errors/index.js";
import type { Future, Stratus } from "../client/index.js";
import { initSource, shipped, stageSource } from "./compile.js";
import type { OpCode } from "./compile.js";
import type { OpSpec, ScalingHints, Table } from "./ops.js";
import { copies, passes, plan } from "./plan.js";
import type { OptimizeOptions, Passes, Plan } from "./plan.js";
import { Batcher } from "./batcher.js";
import type { BatchOptions } from "./batcher.js";
import { checkRow } from "./schema.js";
import type { Row, Schema } from "./schema.js";

/** Options of `flow.deploy`. */
export interface DeployOptions {
  /** Optimizer passes: all on (`true`, the default), all off, or per pass. */
  optimize?: boolean | OptimizeOptions;
  /** The batching pass's queue: most rows per run and the latency target its wait derives from. */
  batch?: BatchOptions;
  /** Time limit of each stage function. @default 60000 */
  timeoutMs?: number;
}

/** Options of `app.run`. */
export interface RunOptions {
  /** Return a future at once; its result is pushed when the flow finishes. */
  future?: boolean;
  /** Deadline of the run. @default 120000 (read-atomic: the cluster's maxTxnMs) */
  timeoutMs?: number;
  /**
   * Runs the flow as one `read-atomic` transaction: its stages read one snapshot, and the writes
   * they make (`ctx.put`, `ctx.merge`) become visible together when it finishes, once. Such runs
   * are never batched with others. @default false
   */
  exactlyOnce?: boolean;
  /**
   * The id of this logical run, the same on each of your retries: with `exactlyOnce`, a retry of
   * a run that finished returns its recorded result instead of running again. @default a new id
   */
  requestId?: string;
}

/** The call options of one run of a flow. */
function callOptions(options: RunOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs;
  if (options.exactlyOnce === true) {
    out.consistency = "read-atomic";
    if (options.requestId !== undefined) out.requestId = options.requestId;
  }
  return out;
}

/** What deploy needs of a flow. */
export interface FlowDescription {
  name: string;
  schema: Schema;
  ops: ReadonlyMap<string, { spec: OpSpec } & OpCode>;
  out: string | undefined;
}

/** One deployed function, as recorded in the app's metadata (`dataflow/<flow>` in state). */
export interface DeployedFunction {
  name: string;
  /** Registered names: the copies of a replicated stage, or the name itself. */
  copies: string[];
  ops: string[];
  anyOf: boolean;
  /** A locality continuation, called per key on the node caching it. */
  continuation: boolean;
  /** Scaling hints of its operators, by operator. */
  hints: Record<string, ScalingHints>;
  batch: boolean;
}

/** The metadata deploy stores under `dataflow/<flow>` (for the autoscaler and operators). */
export interface FlowMetadata {
  flow: string;
  dag: string;
  source: string;
  passes: Passes;
  functions: DeployedFunction[];
}

/** A flow's rows as a future: `get()` waits for the pushed result. */
export interface FlowFuture<R> {
  /** The underlying run's future id. */
  readonly id: string;
  get(): Promise<R[]>;
}

const DATAFLOW_CODES = new Map<
  string,
  new (m: string, o?: { details?: Record<string, unknown> }) => StratusError
>([
  ["SCHEMA_MISMATCH", SchemaMismatchError],
  ["UNKNOWN_COLUMN", UnknownColumnError],
  ["BAD_FLOW", BadFlowError],
]);

/** A stage's failure that the interpreter marked as a dataflow error becomes its typed error. */
export function typedError(e: unknown): unknown {
  if (!(e instanceof FunctionError)) return e;
  const name = e.details?.name;
  const ctor = typeof name === "string" ? DATAFLOW_CODES.get(name) : undefined;
  return ctor === undefined ? e : new ctor(e.message, { details: { ...e.details } });
}

/**
 * A deployed flow.
 *
 * @example
 * ```ts
 * const app = await flow.deploy(cloud, { optimize: { compete: false } });
 * const rows = await app.run([{ url: "a" }]);
 * const fut = await app.run([{ url: "b" }], { future: true });
 * await fut.get();
 * ```
 */
export class FlowApp<In extends Schema, Out extends Schema> {
  private readonly batcher: Batcher | undefined;

  /** @internal */
  constructor(
    private readonly cloud: Stratus,
    private readonly schema: In,
    /** What was registered, and the passes used. */
    readonly metadata: FlowMetadata,
    batching: BatchOptions | undefined,
  ) {
    if (batching !== undefined) {
      this.batcher = new Batcher(batching, (t, o) => this.call(t, o));
    }
  }

  /** Runs the flow over `rows`: the output stage's rows, in order per input row where it keeps one. */
  run(rows: Row<In>[], options: RunOptions & { future: true }): Promise<FlowFuture<Row<Out>>>;
  run(rows: Row<In>[], options?: RunOptions & { future?: false }): Promise<Row<Out>[]>;
  async run(rows: Row<In>[], options: RunOptions = {}): Promise<Row<Out>[] | FlowFuture<Row<Out>>> {
    if (!Array.isArray(rows)) throw new InvalidArgumentError("run takes an array of rows");
    rows.forEach((r, n) => checkRow("input", this.schema, r, n));
    const table: Table = { q: rows.map(() => 0), i: rows.map((_, n) => n), r: rows };
    if (options.future === true) {
      const fut = await this.cloud.callDag<Table>(
        this.metadata.dag,
        { [this.metadata.source]: [table] },
        { future: true, ...callOptions(options) },
      );
      return flowFuture<Row<Out>>(fut);
    }
    const out =
      this.batcher !== undefined && options.exactlyOnce !== true
        ? await this.batcher.submit(table, options)
        : await this.call(table, options);
    return out.r as Row<Out>[];
  }

  private async call(table: Table, options: RunOptions): Promise<Table> {
    try {
      return await this.cloud.callDag<Table>(
        this.metadata.dag,
        { [this.metadata.source]: [table] },
        callOptions(options),
      );
    } catch (e) {
      throw typedError(e);
    }
  }
}

function flowFuture<R>(fut: Future<Table>): FlowFuture<R> {
  return {
    id: fut.id,
    get: async () => {
      try {
        return (await fut.get()).r as R[];
      } catch (e) {
        throw typedError(e);
      }
    },
  };
}

/** Plans, registers every stage function and the DAG, and stores the metadata. */
export async function deployFlow<In extends Schema, Out extends Schema>(
  cloud: Stratus,
  flow: FlowDescription,
  options: DeployOptions = {},
): Promise<FlowApp<In, Out>> {
  const p = passes(options.optimize);
  const specs = new Map([...flow.ops].map(([id, o]) => [id, o.spec]));
  const planned: Plan = plan(flow.name, specs, flow.out, p);
  const register: Promise<unknown>[] = [];
  const reg = { ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) };
  for (const f of planned.functions) {
    const src = shipped(stageSource(f, flow.ops));
    const init = initSource(f, flow.ops);
    for (const name of copies(f)) {
      register.push(
        cloud.register(name, src, init === undefined ? reg : { ...reg, init: shipped(init) }),
      );
    }
  }
  await Promise.all(register);
  await cloud.registerDag(planned.dag, planned.dagSpec);
  const metadata: FlowMetadata = {
    flow: flow.name,
    dag: planned.dag,
    source: planned.source,
    passes: p,
    functions: planned.functions.map((f) => {
      const hints: Record<string, ScalingHints> = {};
      for (const o of f.spec.ops) if (o.hints !== undefined) hints[o.id] = o.hints;
      return {
        name: f.name,
        copies: copies(f),
        ops: f.spec.ops.map((o) => o.id),
        anyOf: f.anyOf,
        continuation: f.continuation,
        hints,
        batch: f.spec.ops.some((o) => o.batch === true),
      };
    }),
  };
  await cloud.put(`dataflow/${flow.name}`, metadata);
  const batching =
    p.batching && metadata.functions.some((f) => f.batch) ? (options.batch ?? {}) : undefined;
  return new FlowApp<In, Out>(cloud, flow.schema as In, metadata, batching);
}

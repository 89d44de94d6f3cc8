/**
 * The Flow builder: a typed graph of operators over tables of rows. Every operator returns a new
 * {@link Stage}; branches are built by calling several operators on one stage.
 */
import { BadFlowError, UnknownColumnError } from "../errors/index.js";
import type { Context } from "../function/index.js";
import type { Stratus } from "../client/index.js";
import { deployFlow } from "./app.js";
import type { DeployOptions, FlowApp } from "./app.js";
import type { AggFn, JoinKind, OpSpec, ScalingHints } from "./ops.js";
import { checkSchema } from "./schema.js";
import type { ColumnType, Merge, NumericColumn, Row, Schema } from "./schema.js";

/** Operator and flow names: they become parts of function names. */
const NAME = /^[A-Za-z_$][\w$-]{0,47}$/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctx = Context<any>;

/** An operator as the builder keeps it: its spec, its output schema and its code. */
export interface BuiltOp {
  spec: OpSpec;
  schema: Schema;
  fn?: (...a: never[]) => unknown;
  init?: (ctx: Context) => unknown;
}

/** Options of every operator with code. */
export interface CodeOptions {
  /** Runs once per executor; its result is this operator's `ctx.state`. Shipped as source. */
  init?: (ctx: Context) => unknown;
  /** Scaling hints for the autoscaler; `resource` also keeps stages of different classes apart. */
  hints?: ScalingHints;
  /** Fuse this operator with its neighbours even when it is a batch or another resource class. */
  fuse?: boolean;
}

/** Options of `map`. */
export interface MapOptions<O extends Schema> extends CodeOptions {
  /** The output rows' schema: checked on every row the map returns. */
  schema: O;
  /** Receive the rows together (a batch), and return one output row per input row, in order. */
  batch?: boolean;
  /** Run `replicas` copies when competitive execution is on; the first result wins. */
  highVariance?: boolean;
  /** Copies for competitive execution. @default 2 when highVariance */
  replicas?: number;
}

/** Options of `join`. */
export interface JoinOptions<S extends Schema, T extends Schema> {
  /** A column both sides have; absent: the row id (rows derived from the same input row). */
  on?: keyof S & keyof T & string;
  /** @default "inner" */
  how?: JoinKind;
}

/** One operator's output in a flow: a table of `Row<S>`. */
export class Stage<S extends Schema> {
  /** @internal */
  constructor(
    /** @internal */ readonly flow: Flow<Schema>,
    /** Operator name. */ readonly id: string,
    /** Output schema. */ readonly schema: S,
  ) {}

  /** A map per row, or per batch (`{ batch: true }`); its output rows must match `schema`. */
  map<const O extends Schema>(
    name: string,
    fn: (ctx: Ctx, row: Row<S>) => Row<O> | Promise<Row<O>>,
    options: MapOptions<O> & { batch?: false },
  ): Stage<O>;
  map<const O extends Schema>(
    name: string,
    fn: (ctx: Ctx, rows: Row<S>[]) => Row<O>[] | Promise<Row<O>[]>,
    options: MapOptions<O> & { batch: true },
  ): Stage<O>;
  map<const O extends Schema>(
    name: string,
    fn: (ctx: Ctx, arg: never) => unknown,
    options: MapOptions<O>,
  ): Stage<O> {
    const schema = checkSchema(`map ${name}`, options?.schema) as O;
    const spec: OpSpec = { id: name, kind: "map", ins: [this.id], schema, fn: true };
    if (options.batch === true) spec.batch = true;
    if (options.highVariance === true) {
      spec.highVariance = true;
      spec.replicas = options.replicas ?? 2;
      if (!Number.isInteger(spec.replicas) || spec.replicas < 1 || spec.replicas > 16) {
        throw new BadFlowError(`map ${name}: replicas must be an integer from 1 to 16`);
      }
    }
    return this.flow.add({ spec, schema, fn }, options) as Stage<O>;
  }

  /** Keeps the rows for which `fn` is true. */
  filter(
    name: string,
    fn: (ctx: Ctx, row: Row<S>) => boolean | Promise<boolean>,
    options: CodeOptions = {},
  ): Stage<S> {
    const spec: OpSpec = { id: name, kind: "filter", ins: [this.id], fn: true };
    return this.flow.add({ spec, schema: this.schema, fn }, options) as Stage<S>;
  }

  /** Groups rows by a column; follow with `agg`. */
  groupby<K extends keyof S & string>(column: K): Grouped<S, K> {
    this.need("groupby", column);
    return new Grouped(this, column);
  }

  /**
   * Joins with another stage on a column both have, or on the row id: `inner` keeps matches,
   * `left` also unmatched rows of this side, `outer` those of both (missing columns are null).
   */
  join<T extends Schema>(other: Stage<T>, options: JoinOptions<S, T> = {}): Stage<Merge<S, T>> {
    const how = options.how ?? "inner";
    if (how !== "inner" && how !== "left" && how !== "outer") {
      throw new BadFlowError(`join: how must be inner, left or outer, not ${String(how)}`);
    }
    const id = this.flow.fresh("join");
    if (options.on !== undefined) {
      this.need(`join ${id}`, options.on, "left");
      other.need(`join ${id}`, options.on, "right");
    }
    const spec: OpSpec = { id, kind: "join", ins: [this.id, other.id], how };
    if (options.on !== undefined) spec.on = options.on;
    const schema = { ...other.schema, ...this.schema } as Merge<S, T>;
    return this.flow.add({ spec, schema }, {}, [other]) as Stage<Merge<S, T>>;
  }

  /**
   * Adds column `as` holding the value stored under a key: a fixed key, or one computed from
   * each row (a dynamic lookup, which the locality pass runs on the node caching the key).
   * A typed array (a tensor, a matrix) arrives as the executor's cached instance, not a copy:
   * read it, never change it (a stage that must, copies it first with `.slice()`).
   */
  lookup<const A extends string, C extends ColumnType = "json">(
    key: string | ((row: Row<S>) => string),
    options: { as: A; type?: C },
  ): Stage<Merge<S, { [P in A]: C }>> {
    const id = this.flow.fresh("lookup");
    if (typeof options?.as !== "string" || options.as.length === 0) {
      throw new BadFlowError(`lookup ${id}: options.as names the new column`);
    }
    if (Object.hasOwn(this.schema, options.as)) {
      throw new BadFlowError(`lookup ${id}: column ${options.as} exists already`);
    }
    const spec: OpSpec = { id, kind: "lookup", ins: [this.id], as: options.as };
    const schema = { ...this.schema, [options.as]: options.type ?? "json" } as Schema;
    if (typeof key === "string") {
      spec.key = key;
      return this.flow.add({ spec, schema }, {}) as Stage<Merge<S, { [P in A]: C }>>;
    }
    spec.fn = true;
    return this.flow.add({ spec, schema, fn: key }, {}) as Stage<Merge<S, { [P in A]: C }>>;
  }

  /** The rows of this stage and of the others, together. */
  union(...others: Stage<S>[]): Stage<S> {
    const spec: OpSpec = {
      id: this.flow.fresh("union"),
      kind: "union",
      ins: [this.id, ...others.map((o) => o.id)],
    };
    return this.flow.add({ spec, schema: this.schema }, {}, others) as Stage<S>;
  }

  /** The table of whichever of this stage and the others finishes first; the rest are cancelled. */
  anyof(...others: Stage<S>[]): Stage<S> {
    if (others.length === 0) throw new BadFlowError("anyof needs at least one other stage");
    const spec: OpSpec = {
      id: this.flow.fresh("anyof"),
      kind: "anyof",
      ins: [this.id, ...others.map((o) => o.id)],
    };
    return this.flow.add({ spec, schema: this.schema }, {}, others) as Stage<S>;
  }

  /** @internal Throws UNKNOWN_COLUMN unless this stage's rows have `column`. */
  need(op: string, column: string, side?: string): void {
    if (!Object.hasOwn(this.schema, column)) {
      throw new UnknownColumnError(
        `${op}: ${side === undefined ? "" : `the ${side} side `}has no column ${column} (columns: ${Object.keys(this.schema).join(", ")})`,
        { details: { operator: op, column } },
      );
    }
  }
}

/** A stage grouped by a column, waiting for its aggregate. */
export class Grouped<S extends Schema, K extends keyof S & string> {
  /** @internal */
  constructor(
    private readonly stage: Stage<S>,
    private readonly by: K,
  ) {}

  /** One row per group: the group column and the aggregate, in a column named after it. */
  agg<F extends AggFn>(
    fn: F,
    ...column: F extends "count" ? [column?: keyof S & string] : [column: NumericColumn<S>]
  ): Stage<{ [P in K]: S[K] } & { [P in F]: "number" }> {
    const col = column[0];
    const id = this.stage.flow.fresh("agg");
    if (!["count", "sum", "min", "max", "avg"].includes(fn)) {
      throw new BadFlowError(`agg ${id}: unknown aggregate ${String(fn)}`);
    }
    if (fn !== "count") {
      if (col === undefined) throw new UnknownColumnError(`agg ${id}: ${fn} needs a column`);
      this.stage.need(`agg ${id}`, col);
      if (this.stage.schema[col] !== "number") {
        throw new UnknownColumnError(`agg ${id}: column ${col} is not a number column`, {
          details: { operator: `agg ${id}`, column: col },
        });
      }
    }
    const spec: OpSpec = { id, kind: "agg", ins: [this.stage.id], by: this.by, agg: fn };
    if (col !== undefined) spec.col = col;
    const schema = { [this.by]: this.stage.schema[this.by], [fn]: "number" } as Schema;
    return this.stage.flow.add({ spec, schema }, {}) as Stage<
      { [P in K]: S[K] } & { [P in F]: "number" }
    >;
  }
}

/**
 * A dataflow: an input schema, operators, one output. Deploy it with `deploy(flow, cloud)`.
 *
 * @example
 * ```ts
 * const flow = Flow.create("double", { x: "number" });
 * flow.output(flow.input.map("twice", (ctx, r) => ({ y: r.x * 2 }), { schema: { y: "number" } }));
 * const app = await flow.deploy(cloud);
 * await app.run([{ x: 1 }]); // [{ y: 2 }]
 * ```
 */
export class Flow<In extends Schema, Out extends Schema = Schema> {
  /** The rows given to `run`. */
  readonly input: Stage<In>;
  /** @internal Operators by name, in the order they were added. */
  readonly ops = new Map<string, BuiltOp>();
  /** @internal */
  out: string | undefined;
  private counter = 0;

  protected constructor(
    readonly name: string,
    readonly schema: In,
  ) {
    this.input = new Stage(this, "input", schema);
    this.ops.set("input", { spec: { id: "input", kind: "input", ins: [] }, schema });
  }

  /** A new flow named `name` (letters, digits, `_`, `-`) whose input rows have `schema`. */
  static create<const S extends Schema>(name: string, schema: S): Flow<S> {
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new BadFlowError(`flow name ${JSON.stringify(name)}: use letters, digits, _ and -`);
    }
    return new Flow(name, checkSchema("input", schema) as S);
  }

  /** Sets the stage whose rows `run` returns. */
  output<O extends Schema>(stage: Stage<O>): Flow<In, O> {
    if (stage.flow !== (this as unknown as Flow<Schema>)) {
      throw new BadFlowError(`flow ${this.name}: the output stage belongs to another flow`);
    }
    this.out = stage.id;
    return this as unknown as Flow<In, O>;
  }

  /**
   * Optimizes and compiles the flow, registers its stage functions and its DAG on `cloud`, and
   * returns the app that runs it. BAD_FLOW when it has no output (or a cycle); BAD_FUNCTION when
   * a stage's code captures a variable.
   */
  deploy(cloud: Stratus, options: DeployOptions = {}): Promise<FlowApp<In, Out>> {
    return deployFlow<In, Out>(
      cloud,
      { name: this.name, schema: this.schema, ops: this.ops, out: this.out },
      options,
    );
  }

  /** @internal A fresh operator name. */
  fresh(kind: string): string {
    let id: string;
    do id = `${kind}${++this.counter}`;
    while (this.ops.has(id));
    return id;
  }

  /** @internal Adds an operator after checking its name and that its inputs are of this flow. */
  add(op: BuiltOp, options: CodeOptions, others: Stage<Schema>[] = []): Stage<Schema> {
    const { id } = op.spec;
    const what = `${op.spec.kind} ${String(id)}`;
    if (typeof id !== "string" || !NAME.test(id)) {
      throw new BadFlowError(`${what}: a name needs letters, digits, _ or - (at most 48)`);
    }
    if (this.ops.has(id)) throw new BadFlowError(`flow ${this.name}: ${id} is used twice`);
    for (const o of others) {
      if (o.flow !== (this as unknown as Flow<Schema>)) {
        throw new BadFlowError(`${what}: stage ${o.id} belongs to another flow`);
      }
    }
    if (op.fn !== undefined && typeof op.fn !== "function") {
      throw new BadFlowError(`${what}: expected a function`);
    }
    if (options.init !== undefined) {
      op.init = options.init;
      op.spec.init = true;
    }
    if (options.hints !== undefined) op.spec.hints = { ...options.hints };
    if (options.fuse === true) op.spec.fuse = true;
    this.ops.set(id, op);
    return new Stage(this, id, op.schema);
  }
}

/**
 * A typed DAG builder: layers of registered functions, each fed by the whole layer before it.
 * Every edge is checked by the compiler (the upstream results must fit the downstream's
 * parameters, in order), and the built DAG knows its sources' inputs and its sink's result, so
 * the handle `registerDag` returns is typed end to end. DAGs of other shapes go as a plain
 * `DagSpec` of names.
 */
import { BadDagError } from "../errors/index.js";
import type { ArgsOf, FunctionRef, ResultOf, WithRefs } from "../function/index.js";
import type { Consistency, DagSpec } from "../protocol/index.js";

/** A function a DAG may hold: a handle, or any ref with its types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any argument and result types
type AnyRef = FunctionRef<any, any>;

/** The results of a layer, in order. */
type Results<L extends readonly unknown[]> = { [K in keyof L]: ResultOf<L[K]> };

/** Why an edge does not type-check: shown in the compiler's message. */
export interface EdgeMismatch<Results, Parameters> {
  "Stratus: the upstream results do not fit this function's parameters": {
    results: Results;
    parameters: Parameters;
  };
}

/** `unknown` when the results of layer `Up`, in order, are valid arguments of `D`. */
type Fits<Up extends readonly AnyRef[], D> =
  Results<Up> extends ArgsOf<D> ? unknown : EdgeMismatch<Results<Up>, ArgsOf<D>>;

/** `unknown` when each result of layer `Up` on its own is a valid argument of `D`. */
type FitsEach<Up extends readonly AnyRef[], D> = [Results<Up>[number]] extends [ArgsOf<D>[0]]
  ? [ResultOf<Up[number]>] extends ArgsOf<D>
    ? unknown
    : EdgeMismatch<[Results<Up>[number]], ArgsOf<D>>
  : EdgeMismatch<[Results<Up>[number]], ArgsOf<D>>;

/** Keys of the sources whose functions may be called without arguments. */
type OptionalSources<S extends AnyRef> = S extends AnyRef
  ? [] extends ArgsOf<S>
    ? S["name"]
    : never
  : never;

/**
 * The inputs of a DAG whose sources are `S`: each source's arguments under its name; sources
 * that take none may be left out.
 */
export type SourceInputs<S extends AnyRef> = {
  [F in S as F["name"] extends OptionalSources<S> ? never : F["name"]]: WithRefs<ArgsOf<F>>;
} & {
  [F in S as F["name"] extends OptionalSources<S> ? F["name"] : never]?: WithRefs<ArgsOf<F>>;
};

/**
 * A DAG under construction: its sources `Sources`, and its last layer `Layer`, which the next
 * `to` feeds from. A DAG with a one-function last layer can be registered; that function is its
 * sink.
 *
 * @example
 * ```ts
 * const d = dag(inc).to(square); // inc → square
 * const j = dag(a, b).to(join); // a → join, b → join: join(resultOfA, resultOfB)
 * const p = await cloud.registerDag("pipeline", d);
 * await p.call({ inc: [1] }); // 4
 * ```
 */
export class DagBuilder<
  Sources extends readonly AnyRef[] = readonly AnyRef[],
  Layer extends readonly AnyRef[] = readonly AnyRef[],
> {
  /** Types only (never set). */
  declare readonly "~types"?: { readonly sources: Sources; readonly layer: Layer };

  private constructor(
    private readonly names: readonly string[],
    private readonly layer: readonly string[],
    private readonly edges: readonly [string, string][],
    private readonly firstOf: readonly string[],
    private readonly level: Consistency | undefined,
  ) {}

  /** @internal Use {@link dag}. */
  static start<S extends readonly AnyRef[]>(sources: S): DagBuilder<S, S> {
    const names = sources.map((s) => refName(s));
    return new DagBuilder<S, S>(unique([], names), names, [], [], undefined);
  }

  /**
   * Adds a layer: every function in `fns` gets the results of the whole current layer, in its
   * order, as its arguments. An argument list they do not fit is a compile error.
   */
  to<L extends [AnyRef, ...AnyRef[]]>(
    ...fns: { [K in keyof L]: L[K] & Fits<Layer, L[K]> }
  ): DagBuilder<Sources, L> {
    const next = fns.map((f) => refName(f));
    const edges = [...this.edges];
    for (const down of next) for (const up of this.layer) edges.push([up, down]);
    return new DagBuilder<Sources, L>(
      unique(this.names, next),
      next,
      edges,
      this.firstOf,
      this.level,
    );
  }

  /**
   * Adds a function that runs on the first result of the current layer to arrive (the DAG
   * spec's `anyOf`): each upstream's result alone must fit its first parameter.
   */
  toFirst<D extends AnyRef>(fn: D & FitsEach<Layer, D>): DagBuilder<Sources, [D]> {
    const name = refName(fn);
    const edges: [string, string][] = [
      ...this.edges,
      ...this.layer.map((up) => [up, name] as [string, string]),
    ];
    return new DagBuilder<Sources, [D]>(
      unique(this.names, [name]),
      [name],
      edges,
      [...this.firstOf, name],
      this.level,
    );
  }

  /** The level runs of this DAG use when their caller names none. @default "lww" */
  consistency(level: Consistency): DagBuilder<Sources, Layer> {
    return new DagBuilder<Sources, Layer>(this.names, this.layer, this.edges, this.firstOf, level);
  }

  /** The DAG as names, as `registerDag` sends it. */
  spec(): DagSpec {
    const spec: DagSpec = { functions: [...this.names], edges: this.edges.map(([a, b]) => [a, b]) };
    if (this.firstOf.length > 0) spec.anyOf = [...this.firstOf];
    if (this.level !== undefined) spec.consistency = this.level;
    return spec;
  }
}

/** The inputs of a built DAG. */
export type DagInputs<D> =
  D extends DagBuilder<infer S, infer _L> ? SourceInputs<S[number]> : never;

/** The result of a built DAG: its sink's; `never` until its last layer is one function. */
export type DagResult<D> =
  D extends DagBuilder<infer _S, infer L>
    ? L extends readonly [infer Sink]
      ? ResultOf<Sink>
      : never
    : never;

/**
 * Starts a typed DAG at its source functions (registered handles); `to` adds layers.
 *
 * @example
 * ```ts
 * const inc = await cloud.register("inc", async (ctx, x: number) => x + 1);
 * const square = await cloud.register("square", (ctx, x: number) => x * x);
 * const pipeline = await cloud.registerDag("pipeline", dag(inc).to(square));
 * await pipeline.call({ inc: [1] }); // 4
 * ```
 */
export function dag<S extends [AnyRef, ...AnyRef[]]>(...sources: S): DagBuilder<S, S> {
  return DagBuilder.start(sources);
}

function refName(f: unknown): string {
  const name = typeof f === "object" ? (f as { name?: unknown } | null)?.name : undefined;
  if (typeof name !== "string" || name.length === 0) {
    throw new BadDagError("a DAG's functions must be handles (what register returns)");
  }
  return name;
}

/** `names` with `more` added; a function twice in one DAG is refused. */
function unique(names: readonly string[], more: readonly string[]): string[] {
  const out = [...names];
  for (const n of more) {
    if (out.includes(n)) throw new BadDagError(`${n} appears twice in the DAG`);
    out.push(n);
  }
  return out;
}

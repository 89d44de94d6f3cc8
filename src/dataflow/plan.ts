/**
 * The optimizer and compiler: from a flow's operators to stage functions (groups of operators)
 * and one DAG. Each pass can be switched off; see {@link OptimizeOptions}.
 */
import { BadFlowError } from "../errors/index.js";
import type { DagSpec } from "../protocol/index.js";
import type { GroupSpec, OpSpec } from "./ops.js";

/** Optimizer passes. `true` (the default) turns on every pass; `false` turns every one off. */
export interface OptimizeOptions {
  /** Runs linear chains of operators as one function: no hop between them. @default true */
  fusion?: boolean;
  /** Runs `replicas` copies of `highVariance` maps; the first result wins, the rest are cancelled. @default true */
  compete?: boolean;
  /** Runs what follows a dynamic lookup on the node caching the looked-up key. @default true */
  locality?: boolean;
  /** Queues concurrent `run`s of a flow with a batch map into one run. @default true */
  batching?: boolean;
}

/** Every pass, resolved. */
export type Passes = Required<OptimizeOptions>;

/** Resolves `optimize` (boolean or per pass) to every pass on or off. */
export function passes(optimize: boolean | OptimizeOptions | undefined): Passes {
  if (optimize === undefined || optimize === true) {
    return { fusion: true, compete: true, locality: true, batching: true };
  }
  if (optimize === false)
    return { fusion: false, compete: false, locality: false, batching: false };
  if (typeof optimize !== "object" || optimize === null) {
    throw new BadFlowError("optimize must be a boolean or an object of passes");
  }
  const on = (v: unknown, name: string): boolean => {
    if (v === undefined) return true;
    if (typeof v !== "boolean") throw new BadFlowError(`optimize.${name} must be a boolean`);
    return v;
  };
  return {
    fusion: on(optimize.fusion, "fusion"),
    compete: on(optimize.compete, "compete"),
    locality: on(optimize.locality, "locality"),
    batching: on(optimize.batching, "batching"),
  };
}

/** One compiled function. */
export interface PlannedFunction {
  /** Registered function name. */
  name: string;
  spec: GroupSpec;
  /** Copies registered for competitive execution (names `<name>.r<k>`); 1 otherwise. */
  replicas: number;
  /** Fires on its first upstream result (an `anyof`, or the pick after replicas). */
  anyOf: boolean;
  /** Upstream functions, in argument order (`$0`, `$1`, …). */
  upstream: string[];
  /** A locality continuation: called by a `route`, not part of the DAG. */
  continuation: boolean;
}

/** What deploy registers. */
export interface Plan {
  dag: string;
  functions: PlannedFunction[];
  /** The function receiving the input table. */
  source: string;
  dagSpec: DagSpec;
}

/** The registered names of a planned function (its copies when replicated). */
export function copies(f: PlannedFunction): string[] {
  if (f.replicas <= 1) return [f.name];
  return Array.from({ length: f.replicas }, (_, k) => `${f.name}.r${k}`);
}

/**
 * Plans a flow: prunes what does not lead to the output, checks for cycles, applies the passes
 * and builds the DAG. `ops` are keyed by name and include the `input` operator.
 */
export function plan(
  flow: string,
  ops: ReadonlyMap<string, OpSpec>,
  output: string | undefined,
  p: Passes,
): Plan {
  if (output === undefined) {
    throw new BadFlowError(`flow ${flow} has no output: call flow.output(stage)`);
  }
  if (output === "input") {
    throw new BadFlowError(`flow ${flow}: the output is the input itself; add an operator`);
  }
  const order = topo(flow, ops, output);
  const live = new Map(order.map((id) => [id, { ...(ops.get(id) as OpSpec) }]));
  if (!live.has("input")) throw new BadFlowError(`flow ${flow}: the output does not use the input`);

  const continuations: { head: OpSpec; ops: OpSpec[] }[] = [];
  if (p.locality) splitAtLookups(flow, live, output, continuations);
  const consumers = consumersOf(live);

  // Groups: each operator starts one, unless fusion appends it to its input's group.
  const groupOf = new Map<string, OpSpec[]>();
  const groups: OpSpec[][] = [];
  for (const op of live.values()) {
    const up = op.ins.length === 1 ? (op.ins[0] as string) : undefined;
    const g = up === undefined ? undefined : groupOf.get(up);
    if (
      p.fusion &&
      g !== undefined &&
      fusable(live.get(up as string) as OpSpec, op, consumers, p)
    ) {
      g.push(op);
      groupOf.set(op.id, g);
    } else {
      const fresh = [op];
      groups.push(fresh);
      groupOf.set(op.id, fresh);
    }
  }

  const fname = (g: OpSpec[]): string => `flow.${flow}.${(g[g.length - 1] as OpSpec).id}`;
  const functions: PlannedFunction[] = [];
  const byExit = new Map<string, PlannedFunction>();
  for (const g of groups) {
    const exit = (g[g.length - 1] as OpSpec).id;
    const inGroup = new Set(g.map((o) => o.id));
    const upstream: string[] = [];
    const arg = (id: string): string => {
      const f = byExit.get(id) as PlannedFunction;
      let k = upstream.indexOf(f.name);
      if (k < 0) k = upstream.push(f.name) - 1;
      return `$${k}`;
    };
    const head = g[0] as OpSpec;
    const anyOf = head.kind === "anyof" && head.ins.length > 1;
    const specOps = g.map((o) => ({
      ...o,
      // The input operator reads the caller's table; an anyof reads whichever upstream fired.
      ins:
        o.kind === "input" || (anyOf && o === head)
          ? ["$0"]
          : o.ins.map((i) => (inGroup.has(i) ? i : arg(i))),
    }));
    if (anyOf) for (const i of head.ins) arg(i);
    const replicated = p.compete && head.highVariance === true && (head.replicas ?? 1) > 1;
    const f: PlannedFunction = {
      name: fname(g),
      spec: { ops: specOps, exit },
      replicas: replicated ? (head.replicas as number) : 1,
      anyOf,
      upstream,
      continuation: false,
    };
    // A consumer with other inputs too cannot fire on any replica's result: add a pick.
    functions.push(f);
    byExit.set(exit, f);
    if (f.replicas > 1 && (exit === output || needsPick(exit, live))) {
      const pick: PlannedFunction = {
        name: `${f.name}.pick`,
        spec: { ops: [{ id: exit, kind: "anyof", ins: ["$0"] }], exit },
        replicas: 1,
        anyOf: true,
        upstream: [f.name],
        continuation: false,
      };
      functions.push(pick);
      byExit.set(exit, pick);
    }
  }
  // A function fed by replicas fires on the first of them.
  const replicatedNames = new Set(functions.filter((f) => f.replicas > 1).map((f) => f.name));
  for (const f of functions) {
    if (f.upstream.length === 1 && replicatedNames.has(f.upstream[0] as string)) f.anyOf = true;
  }
  for (const c of continuations) {
    functions.push({
      name: `flow.${flow}.${c.head.id}.near`,
      spec: { ops: c.ops, exit: (c.ops[c.ops.length - 1] as OpSpec).id },
      replicas: 1,
      anyOf: false,
      upstream: [],
      continuation: true,
    });
  }
  const source = (
    byExit.get("input") ?? functions.find((f) => f.spec.ops.some((o) => o.id === "input"))
  )?.name;
  if (source === undefined) throw new BadFlowError(`flow ${flow}: no stage reads the input`);
  return { dag: `flow.${flow}`, functions, source, dagSpec: dagSpec(functions) };
}

/** The DAG: every copy of every function, edges in each consumer's argument order. */
function dagSpec(functions: PlannedFunction[]): DagSpec {
  const inDag = functions.filter((f) => !f.continuation);
  const byName = new Map(inDag.map((f) => [f.name, f]));
  const names: string[] = [];
  const edges: [string, string][] = [];
  const anyOf: string[] = [];
  for (const f of inDag) {
    for (const n of copies(f)) {
      names.push(n);
      if (f.anyOf) anyOf.push(n);
      for (const u of f.upstream) {
        for (const c of copies(byName.get(u) as PlannedFunction)) edges.push([c, n]);
      }
    }
  }
  return { functions: names, edges, anyOf };
}

/** Operators the output depends on, each after its inputs; throws BAD_FLOW on a cycle. */
export function topo(flow: string, ops: ReadonlyMap<string, OpSpec>, output: string): string[] {
  const state = new Map<string, "open" | "done">();
  const out: string[] = [];
  const visit = (id: string, path: string[]): void => {
    const s = state.get(id);
    if (s === "done") return;
    if (s === "open") {
      const cycle = [...path.slice(path.indexOf(id)), id].join(" -> ");
      throw new BadFlowError(`flow ${flow} has a cycle: ${cycle}`, { details: { cycle } });
    }
    const op = ops.get(id);
    if (op === undefined) throw new BadFlowError(`flow ${flow}: no operator ${id}`);
    state.set(id, "open");
    for (const i of op.ins) visit(i, [...path, id]);
    state.set(id, "done");
    out.push(id);
  };
  visit(output, []);
  return out;
}

function consumersOf(ops: ReadonlyMap<string, OpSpec>): Map<string, string[]> {
  const c = new Map<string, string[]>();
  for (const op of ops.values()) for (const i of op.ins) c.set(i, [...(c.get(i) ?? []), op.id]);
  return c;
}

/**
 * `op` may run in the same function right after `up`: `up` feeds only `op`, neither is replicated,
 * and they need not scale apart (a batch map, or another resource class), unless asked with `fuse`.
 */
function fusable(up: OpSpec, op: OpSpec, consumers: Map<string, string[]>, p: Passes): boolean {
  if ((consumers.get(up.id) ?? []).length !== 1) return false;
  if (op.kind === "anyof" && op.ins.length > 1) return false;
  const replicated = (o: OpSpec): boolean =>
    p.compete && o.highVariance === true && (o.replicas ?? 1) > 1;
  if (replicated(up) || replicated(op)) return false;
  if (up.fuse === true || op.fuse === true) return true;
  if (up.batch === true || op.batch === true) return false;
  return (up.hints?.resource ?? "cpu") === (op.hints?.resource ?? "cpu");
}

function needsPick(exit: string, ops: ReadonlyMap<string, OpSpec>): boolean {
  for (const op of ops.values()) {
    if (op.ins.includes(exit) && new Set(op.ins).size > 1) return true;
  }
  return false;
}

/**
 * Locality: each dynamic lookup, with the linear chain after it, becomes a continuation function
 * called per key (placement sends it to the node caching the key); in the DAG a `route` takes its
 * place. The chain stops before an operator with several inputs, or one whose input feeds others.
 */
function splitAtLookups(
  flow: string,
  live: Map<string, OpSpec>,
  output: string,
  out: { head: OpSpec; ops: OpSpec[] }[],
): void {
  for (const op of [...live.values()]) {
    if (op.kind !== "lookup" || op.fn !== true || !live.has(op.id)) continue;
    const consumers = consumersOf(live);
    const chain: OpSpec[] = [{ ...op, ins: ["$0"], pre: true }];
    let last = op;
    for (;;) {
      if (last.id === output) break;
      const next = consumers.get(last.id) ?? [];
      if (next.length !== 1) break;
      const n = live.get(next[0] as string) as OpSpec;
      if (n.ins.length !== 1 || n.kind === "anyof" || n.kind === "route") break;
      if (n.highVariance === true) break;
      chain.push(n);
      last = n;
    }
    const route: OpSpec = {
      id: last.id,
      kind: "route",
      ins: op.ins,
      fn: true,
      target: `flow.${flow}.${op.id}.near`,
      of: op.id,
    };
    // The route takes the lookup's place (keeping the order inputs-first) and the chain's exit
    // name, so consumers and the output need no rewiring.
    const gone = new Set(chain.map((c) => c.id));
    const entries = [...live.values()]
      .filter((o) => o.id === op.id || !gone.has(o.id))
      .map((o) => (o.id === op.id ? route : o));
    live.clear();
    for (const o of entries) live.set(o.id, o);
    out.push({ head: op, ops: chain });
  }
}

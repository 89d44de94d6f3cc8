import { BadDagError } from "../errors/index.js";
import { CONSISTENCY_LEVELS, isConsistency, nameMap } from "../protocol/index.js";
import type { DagDef, DagSpec, ScheduledFn, WireDagSpec } from "../protocol/index.js";

export type { DagSpec };

const NAME = /^[A-Za-z_$][\w$.-]{0,127}$/;

/**
 * Names every JavaScript object answers to. A function called `__proto__` was registered, then
 * lost on its way to a node (a record keyed by it sets a prototype instead of holding an entry;
 * msgpack renames the key) and its calls waited for their deadline; `constructor` or `toString`
 * read from a record that lacks them find a built-in. Refused as function and DAG names.
 */
const RESERVED: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  "prototype",
]);

/** Checks a function or DAG name; names are storage key suffixes and CLI arguments. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new BadDagError(
      `${what} name ${JSON.stringify(name)} is invalid: use letters, digits, _ $ . - (at most 128, not starting with a digit)`,
    );
  }
  if (RESERVED.has(name)) {
    throw new BadDagError(
      `${what} name ${JSON.stringify(name)} is reserved: every JavaScript object has a property of that name`,
      { details: { name } },
    );
  }
  return name;
}

/**
 * Validates a DAG: known function names, no duplicates, edges between its functions, acyclic,
 * connected enough to have at least one source and one sink. Returns the stored form.
 */
export function validateDag(name: string, spec: WireDagSpec): DagDef {
  checkName(name, "DAG");
  if (typeof spec !== "object" || spec === null || !Array.isArray(spec.functions)) {
    throw new BadDagError(`DAG ${name}: "functions" must be an array of function names`);
  }
  const fns = spec.functions.map((f) => checkName(f, "function"));
  if (fns.length === 0) throw new BadDagError(`DAG ${name} has no functions`);
  const set = new Set(fns);
  if (set.size !== fns.length) throw new BadDagError(`DAG ${name} lists a function twice`);
  const edges = spec.edges ?? [];
  if (!Array.isArray(edges)) throw new BadDagError(`DAG ${name}: "edges" must be an array`);
  const seen = new Set<string>();
  const pairs: [string, string][] = [];
  for (const e of edges) {
    const [a, b] = Array.isArray(e) && e.length === 2 ? e : [];
    if (a === undefined || b === undefined) {
      throw new BadDagError(`DAG ${name}: each edge is a [from, to] pair`);
    }
    pairs.push([a, b]);
    if (!set.has(a) || !set.has(b)) {
      throw new BadDagError(`DAG ${name}: edge ${a} -> ${b} names a function not in the DAG`);
    }
    if (a === b) throw new BadDagError(`DAG ${name}: edge ${a} -> ${a} is a self-loop`);
    const id = `${a}\u0000${b}`;
    if (seen.has(id)) throw new BadDagError(`DAG ${name}: edge ${a} -> ${b} is listed twice`);
    seen.add(id);
  }
  const anyOf = spec.anyOf ?? [];
  for (const f of anyOf) {
    if (!set.has(f)) throw new BadDagError(`DAG ${name}: anyOf names ${f}, not in the DAG`);
  }
  const def: DagDef = { name, functions: fns, edges: pairs, anyOf };
  if (spec.consistency !== undefined) {
    if (!isConsistency(spec.consistency)) {
      throw new BadDagError(
        `DAG ${name}: consistency ${JSON.stringify(spec.consistency)} is not one of ${CONSISTENCY_LEVELS.join(", ")}`,
      );
    }
    if (spec.consistency !== "lww") def.consistency = spec.consistency;
  }
  topoOrder(def);
  const sinks = sinksOf(def);
  if (sinks.length !== 1) {
    throw new BadDagError(
      `DAG ${name} has ${sinks.length} sinks (${sinks.join(", ")}): a DAG needs exactly one function without downstream edges, whose result is the DAG's result`,
    );
  }
  return def;
}

/** Functions in an order where each comes after its upstreams; throws on a cycle. */
export function topoOrder(def: DagDef): string[] {
  const indeg = new Map(def.functions.map((f) => [f, 0]));
  for (const [, b] of def.edges) indeg.set(b, (indeg.get(b) ?? 0) + 1);
  const ready = def.functions.filter((f) => indeg.get(f) === 0);
  const out: string[] = [];
  while (ready.length > 0) {
    const f = ready.shift() as string;
    out.push(f);
    for (const [a, b] of def.edges) {
      if (a !== f) continue;
      const d = (indeg.get(b) ?? 0) - 1;
      indeg.set(b, d);
      if (d === 0) ready.push(b);
    }
  }
  if (out.length !== def.functions.length) throw new BadDagError(`DAG ${def.name} has a cycle`);
  return out;
}

/** Functions with no upstream: they receive the caller's arguments. */
export function sources(def: DagDef): string[] {
  const hasIn = new Set(def.edges.map(([, b]) => b));
  return def.functions.filter((f) => !hasIn.has(f));
}

/** Functions with no downstream. */
export function sinksOf(def: DagDef): string[] {
  const hasOut = new Set(def.edges.map(([a]) => a));
  return def.functions.filter((f) => !hasOut.has(f));
}

/** What running a DAG needs to know about its shape, derived once per definition. */
export interface DagShape {
  /** Functions, each after its upstreams. */
  order: string[];
  sources: string[];
  /** The first upstream of each function that has one (whose node it may share). */
  upstream: Map<string, string>;
}

// Definitions come from the registry's cache and are reused call after call: key on identity.
const shapes = new WeakMap<DagDef, DagShape>();

/** The shape of `def`, computed on first use and remembered. */
export function dagShape(def: DagDef): DagShape {
  let s = shapes.get(def);
  if (s === undefined) {
    const upstream = new Map<string, string>();
    for (const [a, b] of def.edges) if (!upstream.has(b)) upstream.set(b, a);
    s = { order: topoOrder(def), sources: sources(def), upstream };
    shapes.set(def, s);
  }
  return s;
}

/** Builds a run's schedule from a placement (function → node id and address). */
export function buildSchedule(
  def: DagDef,
  placed: Record<string, { node: string; addr: string }>,
): Record<string, ScheduledFn> {
  const out = nameMap<ScheduledFn>();
  const anyOf = new Set(def.anyOf);
  for (const f of def.functions) {
    const p = placed[f];
    if (p === undefined) throw new BadDagError(`DAG ${def.name}: ${f} was not placed`);
    out[f] = { node: p.node, addr: p.addr, next: [], prev: [] };
    if (anyOf.has(f)) out[f].anyOf = true;
  }
  for (const [a, b] of def.edges) {
    out[a]?.next.push(b);
    out[b]?.prev.push(a);
  }
  return out;
}

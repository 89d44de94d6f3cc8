import { isAbsent } from "./absent.js";
import { CounterLattice } from "./counter.js";
import { ZERO_TIMESTAMP } from "./hlc.js";
import type { Timestamp } from "./hlc.js";
import type { Lattice } from "./lattice.js";
import { LwwLattice } from "./lww.js";
import { MapLattice } from "./map.js";
import { MaxLattice, MinLattice } from "./scalar.js";
import { SetLattice } from "./set.js";

/**
 * Constructors of the values an application merges into a key (`cloud.merge(key, l)`, and
 * `ctx.merge(key, ctx.lattices.…)` inside functions, where the same functions are `ctx.lattices`).
 * Each builds a lattice; the key keeps the merge of everything written to it.
 *
 * @example
 * ```ts
 * import { Stratus, lattices } from "stratus";
 * await cloud.merge("visits", lattices.counter(1));          // exact under any concurrency
 * await cloud.merge("tags", lattices.set(["a", "b"]));       // grow-only set
 * await cloud.merge("best", lattices.max(42));
 * await cloud.merge("user:1", lattices.map({ logins: lattices.counter(1), name: lattices.lww("Ada") }));
 * await cloud.get("visits"); // a number
 * ```
 */
export const lattices = {
  /** Adds `delta` (default 1; negative subtracts) to a counter. Exact: never lost, never doubled. */
  counter: (delta = 1): CounterLattice => CounterLattice.delta(delta),
  /** Adds items to a grow-only set (merge is union). */
  set: (items: Iterable<unknown>): SetLattice => SetLattice.of(items),
  /** A number that keeps the largest value ever merged. */
  max: (n: number): MaxLattice => new MaxLattice(n),
  /** A number that keeps the smallest value ever merged. */
  min: (n: number): MinLattice => new MinLattice(n),
  /** A last-writer-wins value, timestamped by the writer's clock when it is written. */
  lww: (value: unknown): LwwLattice => LwwLattice.of(value, ZERO_TIMESTAMP),
  /** A map whose fields merge by their own kind. */
  map: (fields: Record<string, Lattice>): MapLattice => MapLattice.of(fields),
} as const;

/** The constructors' type, as `ctx.lattices` and the `lattices` export. */
export type Lattices = typeof lattices;

/**
 * `l` with every last-writer-wins value that has no time yet (built by `lattices.lww`) given
 * `now()`, also inside maps. Writers call this with their clock just before writing.
 */
export function stampTime(l: Lattice, now: () => Timestamp): Lattice {
  if (l.kind === "lww") return l.ts === ZERO_TIMESTAMP ? new LwwLattice(now(), l.bytes) : l;
  if (l.kind !== "map") return l;
  let changed = false;
  const out: [string, Lattice][] = [];
  for (const [k, v] of l.entries) {
    const s = stampTime(v, now);
    if (s !== v) changed = true;
    out.push([k, s]);
  }
  return changed ? new MapLattice(out) : l;
}

/**
 * The plain value a lattice stands for, as `get` returns it: a counter's number, a set's
 * elements, a map's fields as an object of plain values, a last-writer-wins value itself, a
 * vector clock as `{ node: n }`, and the concurrent values of a causal lattice as an array. A
 * map leaves out its deleted counters.
 */
export function plainValue(l: Lattice): unknown {
  switch (l.kind) {
    case "lww":
    case "prio":
      return l.value();
    case "counter":
    case "max":
    case "min":
      return l.value;
    case "set":
    case "oset":
    case "causal":
    case "mcausal":
      return l.values();
    case "vc":
      return l.toJSON();
    case "map": {
      const out: Record<string, unknown> = {};
      // A deleted counter kept inside a map (see `deletedState`) is not a field, and a key is
      // the user's: `__proto__` must become an entry, not set the result's prototype.
      for (const [k, v] of l.entries) {
        if (isAbsent(v)) continue;
        if (k !== "__proto__") out[k] = plainValue(v);
        else
          Object.defineProperty(out, k, {
            value: plainValue(v),
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      return out;
    }
  }
}

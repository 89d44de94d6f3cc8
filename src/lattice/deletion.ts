import type { Lattice } from "./lattice.js";
import { MapLattice } from "./map.js";

/**
 * What a key holds after a delete: `undefined` (nothing at all) for most lattices, and for a
 * counter the counter with every writer's floor raised to its totals (`CounterLattice.floored`),
 * so a writer that never saw the delete cannot count its old increments again. A map keeps its
 * counters, floored, at the same paths and drops every other field; a map left with no field is
 * `undefined`. The result is absent (`isAbsent`), so the key reads as absent.
 *
 * @example
 * ```ts
 * deletedState(new MaxLattice(3)); // undefined
 * const c = deletedState(new CounterLattice([["w", [5, 0]]])) as CounterLattice;
 * c.merge(new CounterLattice([["w", [6, 0]]])).value; // 1
 * ```
 */
export function deletedState(l: Lattice): Lattice | undefined {
  if (l.kind === "counter") return l.floored();
  if (l.kind !== "map") return undefined;
  const kept: [string, Lattice][] = [];
  for (const [k, v] of l.entries) {
    const d = deletedState(v);
    if (d !== undefined) kept.push([k, d]);
  }
  return kept.length === 0 ? undefined : new MapLattice(kept);
}

import { LatticeTypeMismatchError } from "../errors/index.js";
import type { Lattice } from "./lattice.js";

/**
 * True when a lattice stands for an absent key: a deleted counter (every writer at its floor, see
 * `CounterLattice.deleted`), or a non-empty map whose every field is absent. Stores keep such a
 * lattice so that writers who never saw the delete cannot bring deleted increments back, and
 * read it as nothing.
 *
 * @example
 * ```ts
 * const c = new CounterLattice([["w", [5, 0]]]);
 * isAbsent(c); // false
 * isAbsent(c.floored()!); // true
 * isAbsent(MapLattice.of({ visits: c.floored()! })); // true
 * ```
 */
export function isAbsent(l: Lattice): boolean {
  if (l.kind === "counter") return l.deleted;
  if (l.kind !== "map" || l.entries.size === 0) return false;
  for (const v of l.entries.values()) if (!isAbsent(v)) return false;
  return true;
}

/**
 * Merges two lattices of possibly different kinds: a write of another kind into an absent
 * lattice (a deleted counter) replaces it, as a write into an absent key would, and an absent
 * lattice merged into another kind changes nothing. Any other mix of kinds is
 * `LATTICE_TYPE_MISMATCH`.
 *
 * @example
 * ```ts
 * const gone = new CounterLattice([["w", [5, 0]]]).floored()!;
 * joinKinds(gone, new MaxLattice(3)); // MaxLattice 3
 * joinKinds(new MaxLattice(3), new MinLattice(1)); // throws LATTICE_TYPE_MISMATCH
 * ```
 */
export function joinKinds(a: Lattice, b: Lattice): Lattice {
  if (a.kind !== b.kind) {
    const absentA = isAbsent(a);
    if (absentA !== isAbsent(b)) return absentA ? b : a;
    throw LatticeTypeMismatchError.of(a.kind, b.kind);
  }
  return a.merge(b);
}

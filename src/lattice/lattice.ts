import { LatticeTypeMismatchError, isStratusError } from "../errors/index.js";
import { joinKinds } from "./absent.js";
import type { CausalLattice, MultiCausalLattice } from "./causal.js";
import type { CounterLattice } from "./counter.js";
import type { LwwLattice } from "./lww.js";
import type { MapLattice } from "./map.js";
import type { MaxLattice, MinLattice, PriorityLattice } from "./scalar.js";
import type { OrderedSetLattice, SetLattice } from "./set.js";
import type { VectorClock } from "./vector-clock.js";

/**
 * Every value Stratus stores is one of these lattices. Each has an associative, commutative and
 * idempotent `merge`, so replicas, caches and concurrent writers converge whatever order writes
 * arrive in. Lattices are immutable: `merge` returns a new lattice, or one of its inputs when that
 * input already is the result.
 */
export type Lattice =
  | LwwLattice
  | SetLattice
  | MaxLattice
  | MinLattice
  | MapLattice
  | OrderedSetLattice
  | PriorityLattice
  | VectorClock
  | CausalLattice
  | MultiCausalLattice
  | CounterLattice;

/** The type tag of a lattice, as stored and sent on the wire. */
export type LatticeKind = Lattice["kind"];

/** Every lattice kind, in the order of their wire tags. */
export const LATTICE_KINDS: readonly LatticeKind[] = [
  "lww",
  "set",
  "max",
  "min",
  "map",
  "oset",
  "prio",
  "vc",
  "causal",
  "mcausal",
  "counter",
];

/**
 * Merges `incoming` into `stored`. Merging different kinds throws `LATTICE_TYPE_MISMATCH`,
 * naming the key when one is given, except that an absent lattice (a deleted counter) gives way
 * to a lattice of another kind (see `joinKinds`).
 */
export function mergeLattices(stored: Lattice, incoming: Lattice, key?: string): Lattice {
  try {
    return joinKinds(stored, incoming);
  } catch (e) {
    if (key !== undefined && isStratusError(e) && e.code === "LATTICE_TYPE_MISMATCH") {
      const inner = e.details?.["key"];
      const d = e.details ?? {};
      throw LatticeTypeMismatchError.of(
        typeof d["stored"] === "string" ? d["stored"] : stored.kind,
        typeof d["incoming"] === "string" ? d["incoming"] : incoming.kind,
        typeof inner === "string" ? `${key}/${inner}` : key,
      );
    }
    throw e;
  }
}

import { LatticeTypeMismatchError, isStratusError } from "../errors/index.js";
import { joinKinds } from "./absent.js";
import { assertSameKind } from "./kind.js";
import type { Lattice } from "./lattice.js";

/**
 * A map from string keys to lattices, merged key by key. Nested values may be any lattice,
 * including maps; merging two different lattice types under one key is a type mismatch, except
 * that a deleted counter under a key is replaced by a write of another kind (see `isAbsent`).
 *
 * @example
 * ```ts
 * const a = MapLattice.of({ clicks: new MaxLattice(3) });
 * const b = MapLattice.of({ clicks: new MaxLattice(5), tags: SetLattice.of(["x"]) });
 * (a.merge(b).get("clicks") as MaxLattice).value; // 5
 * ```
 */
export class MapLattice {
  readonly kind = "map" as const;
  /** Entries sorted by key. */
  readonly entries: ReadonlyMap<string, Lattice>;

  constructor(entries: Iterable<readonly [string, Lattice]> = []) {
    const map = new Map<string, Lattice>();
    for (const [k, v] of entries) {
      const cur = map.get(k);
      map.set(k, cur === undefined ? v : joinKinds(cur, v));
    }
    this.entries = new Map([...map].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
  }

  static of(record: Record<string, Lattice>): MapLattice {
    return new MapLattice(Object.entries(record));
  }

  get(key: string): Lattice | undefined {
    return this.entries.get(key);
  }

  get size(): number {
    return this.entries.size;
  }

  merge(other: Lattice): MapLattice {
    assertSameKind(this, other);
    let changed = false;
    const out = new Map(this.entries);
    for (const [k, v] of other.entries) {
      const cur = out.get(k);
      let next: Lattice;
      try {
        next = cur === undefined ? v : joinKinds(cur, v);
      } catch (e) {
        if (isStratusError(e) && e.code === "LATTICE_TYPE_MISMATCH" && cur !== undefined) {
          const inner = e.details?.["key"];
          const path = typeof inner === "string" ? `${k}/${inner}` : k;
          const stored = typeof inner === "string" ? String(e.details?.["stored"]) : cur.kind;
          const incoming = typeof inner === "string" ? String(e.details?.["incoming"]) : v.kind;
          throw LatticeTypeMismatchError.of(stored, incoming, path);
        }
        throw e;
      }
      if (next !== cur) {
        out.set(k, next);
        changed = true;
      }
    }
    return changed ? new MapLattice(out) : this;
  }
}

import { bytesKey, compareBytes } from "./bytes.js";
import { assertSameKind } from "./kind.js";
import type { Lattice } from "./lattice.js";
import { decodeValue, encodeValue } from "./values.js";
import { VectorClock } from "./vector-clock.js";

/** One version of a causal value: the clock it was written at and its encoded value. */
export interface CausalVersion {
  readonly vc: VectorClock;
  readonly bytes: Uint8Array;
}

/** A causal version that also records which versions of other keys it depends on. */
export interface MultiCausalVersion extends CausalVersion {
  readonly deps: ReadonlyMap<string, VectorClock>;
}

const EMPTY: ReadonlyMap<string, VectorClock> = new Map();

function compareVersions(a: CausalVersion, b: CausalVersion): number {
  const ka = a.vc.key();
  const kb = b.vc.key();
  return ka < kb ? -1 : ka > kb ? 1 : compareBytes(a.bytes, b.bytes);
}

/** Pointwise maximum of two dependency maps, sorted by key, without empty clocks. */
function mergeDeps(
  a: ReadonlyMap<string, VectorClock>,
  b: ReadonlyMap<string, VectorClock>,
): ReadonlyMap<string, VectorClock> {
  const out = new Map<string, VectorClock>();
  for (const [k, vc] of [...a, ...b]) {
    if (vc.entries.size === 0) continue;
    const cur = out.get(k);
    out.set(k, cur === undefined ? vc : cur.merge(vc));
  }
  return new Map([...out].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
}

/**
 * The versions not strictly older than another one, each once, in canonical order.
 *
 * Keeping exactly the maximal versions of the union is what makes the merge associative: a
 * version dropped by one merge is dominated in every later union too. (Comparing only the two
 * overall clocks, as a plain "dominates or union" rule does, is not associative.)
 */
function maximal<V extends CausalVersion>(versions: readonly V[], join: (a: V, b: V) => V): V[] {
  const byId = new Map<string, V>();
  for (const v of versions) {
    const id = v.vc.key() + "\u0000" + bytesKey(v.bytes);
    const prev = byId.get(id);
    byId.set(id, prev === undefined ? v : join(prev, v));
  }
  const unique = [...byId.values()];
  const kept = unique.filter((v) => !unique.some((w) => w.vc.compare(v.vc) === "after"));
  return kept.sort(compareVersions);
}

function sameVersions(a: readonly CausalVersion[], b: readonly CausalVersion[]): boolean {
  return (
    a.length === b.length && a.every((v, i) => compareVersions(v, b[i] as CausalVersion) === 0)
  );
}

function joinClocks(versions: readonly CausalVersion[]): VectorClock {
  let vc = new VectorClock();
  for (const v of versions) vc = vc.merge(v.vc);
  return vc;
}

/**
 * Single-key causal value: a set of concurrent versions (siblings), each with its vector clock.
 * Merge keeps every version that no other version strictly supersedes, so concurrent writes are
 * never silently lost and a newer write replaces everything it saw.
 *
 * @example
 * ```ts
 * const a = CausalLattice.of("x", VectorClock.of({ n1: 1 }));
 * const b = CausalLattice.of("y", VectorClock.of({ n2: 1 }));
 * a.merge(b).values();                                  // ["x", "y"]: concurrent siblings
 * a.merge(CausalLattice.of("z", VectorClock.of({ n1: 2 }))).values(); // ["z"]
 * ```
 */
export class CausalLattice {
  readonly kind = "causal" as const;
  readonly versions: readonly CausalVersion[];

  constructor(versions: Iterable<CausalVersion>) {
    this.versions = maximal([...versions], (a) => a);
  }

  static of(value: unknown, vc: VectorClock): CausalLattice {
    return new CausalLattice([{ vc, bytes: encodeValue(value) }]);
  }

  /** The join of every version's clock: what a reader of this value has seen. */
  get clock(): VectorClock {
    return joinClocks(this.versions);
  }

  /** Every concurrent value. */
  values<T = unknown>(): T[] {
    return this.versions.map((v) => decodeValue<T>(v.bytes));
  }

  merge(other: Lattice): CausalLattice {
    assertSameKind(this, other);
    const merged = maximal([...this.versions, ...other.versions], (a) => a);
    if (sameVersions(merged, this.versions)) return this;
    if (sameVersions(merged, other.versions)) return other;
    return new CausalLattice(merged);
  }
}

/**
 * Multi-key causal value (HydroCache's lattice): like {@link CausalLattice}, and every version
 * also carries the versions of other keys it causally depends on, so a reader can refuse to expose
 * it before those dependencies are visible.
 *
 * @example
 * ```ts
 * const reply = MultiCausalLattice.of("re: hi", VectorClock.of({ n1: 1 }), {
 *   "post:1": VectorClock.of({ n2: 3 }),
 * });
 * reply.versions[0].deps.get("post:1"); // VectorClock { n2: 3 }
 * ```
 */
export class MultiCausalLattice {
  readonly kind = "mcausal" as const;
  readonly versions: readonly MultiCausalVersion[];

  constructor(versions: Iterable<MultiCausalVersion>) {
    const normal = [...versions].map((v) => ({ ...v, deps: mergeDeps(v.deps, EMPTY) }));
    this.versions = maximal(normal, (a, b) => ({
      vc: a.vc,
      bytes: a.bytes,
      deps: mergeDeps(a.deps, b.deps),
    }));
  }

  static of(
    value: unknown,
    vc: VectorClock,
    deps: Record<string, VectorClock> = {},
  ): MultiCausalLattice {
    return new MultiCausalLattice([
      { vc, bytes: encodeValue(value), deps: new Map(Object.entries(deps)) },
    ]);
  }

  get clock(): VectorClock {
    return joinClocks(this.versions);
  }

  /** The union of every version's dependencies (pointwise maximum per key). */
  get dependencies(): ReadonlyMap<string, VectorClock> {
    let deps = EMPTY;
    for (const v of this.versions) deps = mergeDeps(deps, v.deps);
    return deps;
  }

  values<T = unknown>(): T[] {
    return this.versions.map((v) => decodeValue<T>(v.bytes));
  }

  merge(other: Lattice): MultiCausalLattice {
    assertSameKind(this, other);
    return new MultiCausalLattice([...this.versions, ...other.versions]);
  }
}

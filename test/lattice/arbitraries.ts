import fc from "fast-check";
import {
  CausalLattice,
  CounterLattice,
  LwwLattice,
  MapLattice,
  MaxLattice,
  MinLattice,
  MultiCausalLattice,
  OrderedSetLattice,
  PriorityLattice,
  SetLattice,
  VectorClock,
  encodeValue,
  makeTimestamp,
} from "../../src/lattice/index.js";
import type { Lattice, LatticeKind } from "../../src/lattice/index.js";

// Small domains on purpose: collisions (equal timestamps, equal clocks, equal elements) are where
// merge laws break, so the generators make them common.
export const value = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.constantFrom("a", "b", "c"),
  fc.constant(null),
  fc.record({ n: fc.integer({ min: 0, max: 2 }) }),
);
export const timestamp = fc
  .tuple(
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 0, max: 2 }),
  )
  .map(([w, c, n]) => makeTimestamp(1_700_000_000_000 + w, c, n));
export const clock = fc
  .dictionary(fc.constantFrom("n1", "n2", "n3"), fc.integer({ min: 0, max: 3 }))
  .map((r) => VectorClock.of(r));

export const lww = fc.tuple(value, timestamp).map(([v, ts]) => LwwLattice.of(v, ts));
export const set = fc.array(value, { maxLength: 5 }).map((vs) => SetLattice.of(vs));
export const max = fc.integer({ min: -5, max: 5 }).map((n) => new MaxLattice(n));
export const min = fc.double({ min: -5, max: 5, noNaN: true }).map((n) => new MinLattice(n));
export const oset = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 3 }), value), { maxLength: 5 })
  .map((items) => OrderedSetLattice.of(items));
export const prio = fc
  .tuple(fc.integer({ min: 0, max: 3 }), value)
  .map(([p, v]) => PriorityLattice.of(p, v));
export const causal = fc
  .array(fc.tuple(value, clock), { minLength: 1, maxLength: 3 })
  .map((vs) => new CausalLattice(vs.map(([v, vc]) => ({ vc, bytes: encodeValue(v) }))));
export const mcausal = fc
  .array(fc.tuple(value, clock, fc.dictionary(fc.constantFrom("k1", "k2"), clock)), {
    minLength: 1,
    maxLength: 3,
  })
  .map(
    (vs) =>
      new MultiCausalLattice(
        vs.map(([v, vc, deps]) => ({
          vc,
          bytes: encodeValue(v),
          deps: new Map(Object.entries(deps)),
        })),
      ),
  );
const totals = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }));
// Floors (left by deletes) on some writers, including deleted counters (floors equal totals).
export const counter = fc
  .tuple(
    fc.dictionary(fc.constantFrom("w1", "w2", "w3"), totals),
    fc.dictionary(fc.constantFrom("w1", "w2", "w3"), totals),
    fc.boolean(),
  )
  .map(([t, f, deleted]) => {
    const c = new CounterLattice(Object.entries(t), Object.entries(f));
    return deleted ? (c.floored() ?? c) : c;
  });
// Each map key always holds the same kind, so random maps merge without type mismatches.
export const map: fc.Arbitrary<MapLattice> = fc
  .record(
    {
      hits: max,
      tags: set,
      name: lww,
      visits: counter,
      inner: fc.record({ lo: min, seen: clock }, { requiredKeys: [] }).map((r) => MapLattice.of(r)),
    },
    { requiredKeys: [] },
  )
  .map((r) => MapLattice.of(r as Record<string, Lattice>));

export const byKind: Record<LatticeKind, fc.Arbitrary<Lattice>> = {
  lww,
  set,
  max,
  min,
  map,
  oset,
  prio,
  vc: clock,
  causal,
  mcausal,
  counter,
};

/** Any lattice, with its kind. */
export const anyLattice: fc.Arbitrary<Lattice> = fc.oneof(...Object.values(byKind));

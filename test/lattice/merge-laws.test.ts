import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  OrderedSetLattice,
  SetLattice,
  isAbsent,
  latticeEquals,
  mergeLattices,
} from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import { byKind, counter } from "./arbitraries.js";

const runs = { numRuns: 300 };

function eq(a: Lattice, b: Lattice): boolean {
  return latticeEquals(a, b);
}

for (const [kind, arb] of Object.entries(byKind)) {
  describe(`lattice/${kind} merge laws`, () => {
    it("is commutative", () => {
      fc.assert(
        fc.property(arb, arb, (a, b) => eq(mergeLattices(a, b), mergeLattices(b, a))),
        runs,
      );
    });
    it("is associative", () => {
      fc.assert(
        fc.property(arb, arb, arb, (a, b, c) =>
          eq(mergeLattices(mergeLattices(a, b), c), mergeLattices(a, mergeLattices(b, c))),
        ),
        runs,
      );
    });
    it("is idempotent", () => {
      fc.assert(
        fc.property(arb, (a) => eq(mergeLattices(a, a), a)),
        runs,
      );
    });
    it("merge result absorbs both inputs (it is their upper bound)", () => {
      fc.assert(
        fc.property(arb, arb, (a, b) => {
          const m = mergeLattices(a, b);
          return eq(mergeLattices(m, a), m) && eq(mergeLattices(m, b), m);
        }),
        runs,
      );
    });
  });
}

describe("lattice/deleted counters next to other kinds", () => {
  // A deleted counter gives way to another kind (see `joinKinds`); a mismatch still throws. Where
  // both sides of a law merge without a mismatch, they agree.
  const deleted = counter.map((c) => c.floored() ?? c);
  const mixed = fc.oneof(deleted, byKind.counter, byKind.lww, byKind.max);
  const tryMerge = (a: Lattice, b: Lattice): Lattice | undefined => {
    try {
      return mergeLattices(a, b);
    } catch {
      return undefined;
    }
  };
  it("is commutative where it is defined", () => {
    fc.assert(
      fc.property(mixed, mixed, (a, b) => {
        const x = tryMerge(a, b);
        const y = tryMerge(b, a);
        return x === undefined ? y === undefined : y !== undefined && eq(x, y);
      }),
      runs,
    );
  });
  it("is associative where it is defined", () => {
    fc.assert(
      fc.property(mixed, mixed, mixed, (a, b, c) => {
        const ab = tryMerge(a, b);
        const bc = tryMerge(b, c);
        const x = ab === undefined ? undefined : tryMerge(ab, c);
        const y = bc === undefined ? undefined : tryMerge(a, bc);
        return x === undefined || y === undefined || eq(x, y);
      }),
      runs,
    );
  });
  it("a deleted counter takes another kind whole, from either side", () => {
    fc.assert(
      fc.property(deleted, fc.oneof(byKind.lww, byKind.max, byKind.set), (d, other) => {
        if (!isAbsent(d)) return true;
        return eq(mergeLattices(d, other), other) && eq(mergeLattices(other, d), other);
      }),
      runs,
    );
  });
});

describe("lattice/merge laws sanity", () => {
  it("the property check can fail: a non-commutative 'merge' is caught", () => {
    const arb = byKind.max;
    assert.throws(() =>
      fc.assert(
        fc.property(arb, arb, (a, b) => eq(a, b)),
        { numRuns: 100 },
      ),
    );
  });
});

describe("lattice/set fast paths", () => {
  it("adding a few elements to a large set equals the union of their values", () => {
    const big = fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { minLength: 50, maxLength: 200 });
    const few = fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 3 });
    fc.assert(
      fc.property(big, few, (a, b) => {
        const merged = SetLattice.of(a).merge(SetLattice.of(b));
        const expected = SetLattice.of([...new Set([...a, ...b])]);
        assert.ok(latticeEquals(merged, expected));
        assert.deepEqual(
          merged.values<number>().sort((x, y) => x - y),
          [...new Set([...a, ...b])].sort((x, y) => x - y),
        );
      }),
      { numRuns: 300 },
    );
  });
  it("ordered sets keep score order through the fast path", () => {
    const big = OrderedSetLattice.of(
      Array.from({ length: 100 }, (_, i) => [i * 2, `e${i}`] as const),
    );
    const merged = big.merge(
      OrderedSetLattice.of([
        [7, "x"],
        [-1, "first"],
      ]),
    );
    const vals = merged.values<string>();
    assert.equal(vals[0], "first");
    assert.equal(vals[5], "x");
    assert.equal(merged.size, 102);
  });
});

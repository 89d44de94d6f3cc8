/**
 * Deleting a counter is a merge: floors keep the increments a delete saw from counting again,
 * whoever sends them later.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStratusError } from "../../src/errors/index.js";
import {
  CounterLattice,
  LwwLattice,
  MapLattice,
  MaxLattice,
  ZERO_TIMESTAMP,
  decodeLattice,
  deletedState,
  encodeLattice,
  isAbsent,
  latticeEquals,
  mergeLattices,
  plainValue,
} from "../../src/lattice/index.js";

const w = (entries: [string, [number, number]][]) => new CounterLattice(entries);

describe("lattice/counter deletes", () => {
  it("a writer that never saw the delete counts only what it added after", () => {
    const before = w([
      ["a", [5, 0]],
      ["b", [2, 1]],
    ]);
    const gone = before.floored() as CounterLattice;
    assert.equal(gone.deleted, true);
    assert.equal(gone.value, 0);
    // Writer a resends its running totals, one increment later; b decrements once more.
    const after = gone.merge(w([["a", [6, 0]]])).merge(w([["b", [2, 2]]]));
    assert.equal(after.value, 0, "a +1, b -1");
    assert.equal(after.deleted, false, "a value of 0 that is not a delete is still there");
    assert.equal(gone.merge(w([["a", [5, 0]]])).deleted, true, "old totals change nothing");
    // Deleted again: the floors move up to the totals seen now.
    const twice = after.floored() as CounterLattice;
    assert.equal(twice.merge(w([["a", [9, 0]]])).value, 3);
  });

  it("floors merge by maximum, and the merge order does not matter", () => {
    const x = (w([["a", [5, 0]]]).floored() as CounterLattice).merge(w([["a", [7, 0]]]));
    const y = (w([["a", [6, 0]]]).floored() as CounterLattice).merge(w([["b", [1, 0]]]));
    const xy = x.merge(y);
    assert.ok(latticeEquals(xy, y.merge(x)));
    assert.equal(xy.value, 2, "a: 7 above the larger floor 6, b: 1");
  });

  it("totals below a floor are lifted to it, and a delta can have no floor", () => {
    const c = new CounterLattice([["a", [1, 0]]], [["a", [4, 2]]]);
    assert.deepEqual(c.entries.get("a"), [4, 2]);
    assert.equal(c.deleted, true);
    assert.throws(
      () => new CounterLattice([], [["", [1, 0]]]),
      (e: unknown) => isStratusError(e) && e.code === "INVALID_ARGUMENT",
    );
  });

  it("a counter nobody added to leaves nothing when deleted", () => {
    assert.equal(w([["a", [0, 0]]]).floored(), undefined);
    assert.equal(new CounterLattice().floored(), undefined);
    assert.equal(deletedState(new MaxLattice(3)), undefined);
  });

  it("a deleted map keeps its counters floored at their paths and nothing else", () => {
    const doc = MapLattice.of({
      visits: w([["a", [5, 0]]]),
      name: LwwLattice.of("Ada", ZERO_TIMESTAMP),
      inner: MapLattice.of({ clicks: w([["a", [2, 0]]]), best: new MaxLattice(1) }),
      plain: MapLattice.of({ best: new MaxLattice(1) }),
    });
    const gone = deletedState(doc) as MapLattice;
    assert.deepEqual([...gone.entries.keys()], ["inner", "visits"]);
    assert.deepEqual([...(gone.get("inner") as MapLattice).entries.keys()], ["clicks"]);
    assert.equal(isAbsent(gone), true);
    const back = mergeLattices(gone, MapLattice.of({ visits: w([["a", [6, 0]]]) }));
    assert.equal(isAbsent(back), false);
    assert.deepEqual(plainValue(back), { visits: 1 }, "deleted fields are not shown");
  });

  it("encodes floors, and reads counters written before floors existed", () => {
    const c = (
      w([
        ["a", [5, 1]],
        ["b", [0, 0]],
      ]).floored() as CounterLattice
    ).merge(w([["a", [6, 1]]]));
    const back = decodeLattice(encodeLattice(c)) as CounterLattice;
    assert.ok(latticeEquals(back, c));
    assert.equal(back.value, 1);
    const old = decodeLattice(encodeLattice(w([["a", [3, 1]]]))) as CounterLattice;
    assert.equal(old.value, 2);
    assert.equal(old.floors.size, 0);
  });
});

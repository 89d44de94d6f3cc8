/** The four-anomaly checker of the transaction fault test, on hand-made histories. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TxnChecker } from "../../testing/txn/index.js";
import type { FinalState, TagValue } from "../../testing/txn/index.js";

function final(groups: [string, readonly TagValue[]][], counters: [string, number][]): FinalState {
  return { groups: new Map(groups), counters: new Map(counters) };
}

/** Two acknowledged writes of g0, then one of g1. */
function history(): TxnChecker {
  const c = new TxnChecker();
  for (const [tag, g] of [
    ["a", "g0"],
    ["b", "g0"],
    ["c", "g1"],
  ] as const) {
    c.issued(tag, g);
    c.acked(tag);
  }
  return c;
}

const CLEAN = final(
  [
    ["g0", ["b", "b"]],
    ["g1", ["c", "c"]],
  ],
  [
    ["a", 1],
    ["b", 1],
    ["c", 1],
  ],
);

describe("txn fault checker", () => {
  it("finds nothing in a clean history, and counts its figures", () => {
    const c = history();
    c.read("g0", [null, null]);
    c.read("g0", ["a", "a"]);
    c.read("g1", ["c", "c"]);
    const r = c.check(CLEAN);
    assert.deepEqual(
      [r.fracturedReads, r.dirtyReads, r.lostCommits, r.duplicatedEffects],
      [0, 0, 0, 0],
    );
    assert.deepEqual([r.writes, r.acked, r.counterTotal, r.reads], [3, 3, 3, 5]);
    assert.deepEqual(r.examples, []);
  });

  it("counts a fractured read, including half a group and nothing", () => {
    const c = history();
    c.read("g0", ["a", "b"]);
    c.read("g0", ["a", null]);
    c.read("g0", ["b", "b"]);
    const r = c.check(CLEAN);
    assert.equal(r.fracturedReads, 2);
    assert.equal(r.dirtyReads, 0);
  });

  it("counts a fractured final state too", () => {
    const r = history().check(
      final(
        [
          ["g0", ["a", "b"]],
          ["g1", ["c", "c"]],
        ],
        [...CLEAN.counters],
      ),
    );
    assert.equal(r.fracturedReads, 1);
  });

  it("counts a dirty read: a tag that left no effect, or one never written to the group", () => {
    const c = history();
    c.issued("d", "g1"); // never acknowledged, and no effect at the end: aborted
    c.read("g1", ["d", "d"]);
    c.read("g0", ["c", "c"]); // c was written to g1, not g0
    c.read("g0", ["zz", "zz"]); // nobody wrote zz
    const r = c.check(CLEAN);
    assert.equal(r.dirtyReads, 3);
    assert.equal(r.fracturedReads, 0);
    assert.equal(r.committedUnacked, 0);
  });

  it("does not call a read dirty when its unacknowledged request did commit", () => {
    const c = history();
    c.issued("d", "g1"); // the client gave up, but the commit happened
    c.read("g1", ["d", "d"]);
    const r = c.check(final([...CLEAN.groups], [...CLEAN.counters, ["d", 1]]));
    assert.equal(r.dirtyReads, 0);
    assert.equal(r.committedUnacked, 1);
    assert.equal(r.lostCommits, 0);
  });

  it("counts an acknowledged write whose counter is missing or 0 as lost", () => {
    const r = history().check(
      final(
        [...CLEAN.groups],
        [
          ["b", 1],
          ["c", 0],
        ],
      ),
    );
    assert.equal(r.lostCommits, 2);
    // The final state still holds b and c in the groups; c's effects are gone though: dirty.
    assert.equal(r.dirtyReads, 1);
  });

  it("counts every increment beyond the first as a duplicated effect", () => {
    const r = history().check(
      final(
        [...CLEAN.groups],
        [
          ["a", 3],
          ["b", 1],
          ["c", 2],
        ],
      ),
    );
    assert.equal(r.duplicatedEffects, 3);
    assert.equal(r.counterTotal, 6);
    assert.equal(r.acked, 3);
    assert.ok(r.examples.some((e) => e.includes("a applied 3 times")));
  });
});

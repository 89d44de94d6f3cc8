/**
 * The anomaly checker on hand-made run logs: each anomaly it names is found where it happens and
 * nowhere else, and the tally counts runs (not anomalies) against what each level prevents.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AnomalyTally, checkRun } from "../../testing/consistency/index.js";
import type { ReadRecord } from "../../testing/consistency/index.js";

const r = (key: string, seq: number, deps: Record<string, number> = {}): ReadRecord => ({
  key,
  seq,
  deps,
});

describe("consistency checker", () => {
  it("a consistent run shows nothing", () => {
    assert.deepEqual(
      [...checkRun([r("a", 7), r("b", 4, { a: 7 }), r("a", 7), r("b", 4, { a: 6 })])],
      [],
    );
  });

  it("(a) a reply seen, then its parent's list without the parent", () => {
    const found = checkRun([r("b", 4, { a: 7 }), r("a", 6)]);
    assert.deepEqual([...found].sort(), ["fractured", "olderThanSeen", "replyWithoutParent"]);
  });

  it("(b) two versions of one key, newer second: neither (a) nor (c)", () => {
    const found = checkRun([r("a", 6), r("a", 7)]);
    assert.deepEqual([...found].sort(), ["fractured", "twoVersions"]);
  });

  it("(c) a read older than one read before it", () => {
    const found = checkRun([r("a", 7), r("a", 6)]);
    assert.deepEqual([...found].sort(), ["fractured", "olderThanSeen", "twoVersions"]);
  });

  it("(d) the parent list read first, then a reply to a newer version of it", () => {
    const found = checkRun([r("a", 6), r("b", 4, { a: 7 })]);
    assert.deepEqual([...found], ["fractured"]);
  });

  it("the tally counts each run once per level, whatever it shows", () => {
    const t = new AnomalyTally();
    t.add([r("b", 4, { a: 7 }), r("a", 6), r("a", 5)]); // a, b, c, d
    t.add([r("a", 6), r("a", 7)]); // b, d
    t.add([r("a", 6), r("b", 4, { a: 7 })]); // d
    t.add([r("a", 1)]);
    assert.equal(t.runs, 4);
    assert.equal(t.violations("lww"), 0);
    assert.equal(t.violations("repeatable-read"), 2);
    assert.equal(t.violations("causal"), 1);
    assert.equal(t.violations("transactional-causal"), 3);
    assert.equal(t.counts.twoVersions, 2);
  });
});

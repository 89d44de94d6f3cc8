import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  HybridClock,
  isTimestamp,
  makeTimestamp,
  parseTimestamp,
} from "../../src/lattice/index.js";

describe("lattice/hlc", () => {
  it("never goes backwards, even when the wall clock does", () => {
    let wall = 1_000;
    const clock = new HybridClock({ node: "a", now: () => wall });
    let prev = clock.now();
    for (const step of [0, 0, -500, 3, -1, 0, 10]) {
      wall += step;
      const next = clock.now();
      assert.ok(next > prev, `${next} <= ${prev}`);
      prev = next;
    }
  });

  it("moves past observed remote timestamps", () => {
    const clock = new HybridClock({ node: "a", now: () => 1_000 });
    const remote = makeTimestamp(5_000, 7, 9);
    clock.observe(remote);
    assert.ok(clock.now() > remote);
  });

  it("ignores remote timestamps beyond the drift bound", () => {
    const clock = new HybridClock({ node: "a", now: () => 1_000, maxDriftMs: 100 });
    clock.observe(makeTimestamp(10_000, 0, 1));
    assert.equal(parseTimestamp(clock.now()).wallMs, 1_000);
  });

  it("two nodes in the same millisecond get distinct, ordered timestamps", () => {
    const a = new HybridClock({ node: "a", now: () => 42 });
    const b = new HybridClock({ node: "b", now: () => 42 });
    const ta = a.now();
    const tb = b.now();
    assert.notEqual(ta, tb);
    assert.equal(parseTimestamp(ta).wallMs, parseTimestamp(tb).wallMs);
  });

  it("string order equals numeric order of (wall, counter, node)", () => {
    const part = fc.tuple(
      fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      fc.integer({ min: 0, max: 2 ** 24 - 1 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    );
    fc.assert(
      fc.property(part, part, (x, y) => {
        const sx = makeTimestamp(...x);
        const sy = makeTimestamp(...y);
        assert.ok(isTimestamp(sx));
        assert.deepEqual(parseTimestamp(sx), { wallMs: x[0], counter: x[1], node: x[2] });
        const num = x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
        const str = sx < sy ? -1 : sx > sy ? 1 : 0;
        return Math.sign(num) === str;
      }),
    );
  });

  it("rejects out-of-range parts", () => {
    assert.throws(() => makeTimestamp(-1, 0, 0), /wallMs/);
    assert.throws(() => makeTimestamp(0, 2 ** 24, 0), /counter/);
  });
});

/**
 * The session slots of a run: one bound for every level's slot (keys read, dependencies, a
 * transaction's buffered writes), and what a nested call carries on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_SESSION_KEYS, nestedSession } from "../../src/protocol/index.js";
import type { CarriedWrite, RunMeta } from "../../src/protocol/index.js";
import { depsFrom } from "../../src/consistency/versions.js";
import { carried, startedTxn } from "../../src/txn/carried.js";
import { isStratusError } from "../../src/errors/index.js";
import { HybridClock } from "../../src/lattice/index.js";

const code = (c: string) => (e: unknown) => isStratusError(e) && e.code === c;

function deps(n: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (let i = 0; i < n; i++) out[`k${i}`] = { n1: i + 1 };
  return out;
}

function withWrites(n: number): RunMeta {
  const txn = startedTxn("t1", 1, new HybridClock().now(), "d");
  const w: CarriedWrite[] = [];
  for (let i = 0; i < n; i++) w.push([`k${i}`, 1, null]);
  return {
    run: "r",
    attempt: 0,
    consistency: "read-atomic",
    deadline: Date.now() + 60_000,
    reply: { addr: "stratus://127.0.0.1:1", req: 1 },
    session: { txn: { ...txn, w } },
  };
}

describe("protocol: session slots", () => {
  it("a causal slot and a transaction's writes are bounded alike, at MAX_SESSION_KEYS", () => {
    // Both sides of the bound, for both readers: what one level carries, the other may too.
    assert.equal(depsFrom(deps(MAX_SESSION_KEYS), "session.cc").size, MAX_SESSION_KEYS);
    assert.throws(
      () => depsFrom(deps(MAX_SESSION_KEYS + 1), "session.cc"),
      code("VALUE_TOO_LARGE"),
    );
    assert.equal(carried(withWrites(MAX_SESSION_KEYS))?.w.length, MAX_SESSION_KEYS);
    assert.throws(() => carried(withWrites(MAX_SESSION_KEYS + 1)), code("INVALID_ARGUMENT"));
  });

  it("a nested call carries every slot but its caller's future", () => {
    const cc = { a: { n1: 3 } };
    assert.deepEqual(nestedSession({ cc, future: "f1", futureTtlMs: 60_000 }), { cc });
  });
});

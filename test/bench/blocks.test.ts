/**
 * The closed-loop load of bench/lib/blocks.ts: what it counts, the order it runs systems in, and
 * that a failing operation fails its block with no lane left running. The operations are local
 * async functions (the harness is what is under test, not a system), and nothing here asserts a
 * time or a rate.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { alternate, closedLoop } from "../../bench/lib/blocks.js";

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test("closedLoop keeps exactly `callers` operations in flight and counts each one", async () => {
  let inFlight = 0;
  let peak = 0;
  let started = 0;
  const r = await closedLoop(
    async () => {
      started++;
      peak = Math.max(peak, ++inFlight);
      await tick();
      inFlight--;
    },
    8,
    50,
  );
  assert.equal(peak, 8);
  assert.equal(inFlight, 0, "every lane has finished when the block returns");
  assert.equal(r.acknowledged, started, "every started operation was acknowledged");
  // How many land inside the 50 ms window depends on the machine; none may be counted twice.
  assert.ok(r.acknowledged > 0 && r.ops <= r.acknowledged);
  assert.equal(r.latenciesMs.length, r.ops);
  assert.equal(r.ms, 50);
});

test("closedLoop rejects with the operation's error and leaves no lane running", async () => {
  let calls = 0;
  let running = 0;
  await assert.rejects(
    closedLoop(
      async () => {
        running++;
        await tick();
        running--;
        if (++calls === 20) throw new Error("boom");
      },
      4,
      60_000,
    ),
    /boom/,
  );
  const after = calls;
  await tick();
  await tick();
  assert.equal(running, 0);
  assert.equal(calls, after, "no operation started after the block failed");
});

test("alternate warms every side up, then runs one block per side per round, in turn", async () => {
  const order: string[] = [];
  const counts = { a: 0, b: 0 };
  const side = (name: "a" | "b") => async (): Promise<void> => {
    if (order.at(-1) !== name) order.push(name);
    counts[name]++;
    await tick();
  };
  const res = await alternate(
    { a: side("a"), b: side("b") },
    { rounds: 2, blockMs: 20, warmupMs: 10, callers: 2 },
  );
  // warm-up a, b; round 1 a, b; round 2 a, b
  assert.deepEqual(order, ["a", "b", "a", "b", "a", "b"]);
  assert.equal(res.a?.acknowledged, counts.a, "warm-up operations count as acknowledged");
  assert.equal(res.b?.acknowledged, counts.b);
  assert.ok((res.a?.opsPerSec ?? 0) > 0 && (res.b?.opsPerSec ?? 0) > 0);
});

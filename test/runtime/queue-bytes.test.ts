/**
 * Calls held are bounded by the bytes of their arguments, not only by their count: a node past
 * `maxQueuedBytes` (calls queued or running on it), a scheduler past `maxInFlightBytes` (runs it
 * has in flight, which keep their arguments to relaunch them), refuse a call at once with
 * OVERLOADED (retryable) while the calls they hold go on and answer. In process, with one
 * executor busy with the first call.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import type { LocalOptions } from "../../src/index.js";
import { until } from "../../testing/processes.js";

const MiB = 1024 * 1024;

/** 8 calls of 3.5 MiB against a 16 MiB bound: four fit (14 MiB), four are refused. */
async function eightCalls(options: LocalOptions, refusedBy: RegExp): Promise<void> {
  const cloud = await Stratus.local({ executors: 1, ...options });
  try {
    // Holds its executor until the key `go` is set, then answers its argument's size.
    await cloud.register("hold", async (ctx, x: Uint8Array) => {
      while ((await ctx.get("go")) !== true) await new Promise((r) => setTimeout(r, 5));
      return x.byteLength;
    });
    const size = 3.5 * MiB;
    const outcomes: string[] = [];
    const calls = Array.from({ length: 8 }, (_, i) =>
      cloud.call<number>("hold", [new Uint8Array(size).fill(i)], { timeoutMs: 30_000 }).then(
        (n) => {
          assert.equal(n, size);
          outcomes.push("ok");
        },
        (e: unknown) => {
          assert.ok(isStratusError(e), String(e));
          assert.match(e.message, refusedBy);
          outcomes.push(e.code);
        },
      ),
    );
    await until(async () => outcomes.length >= 4, 20_000, "four calls to be refused");
    assert.deepEqual(outcomes, ["OVERLOADED", "OVERLOADED", "OVERLOADED", "OVERLOADED"]);
    await cloud.put("go", true);
    await Promise.all(calls);
    assert.deepEqual(outcomes.slice(4), ["ok", "ok", "ok", "ok"]);
  } finally {
    await cloud.close();
  }
}

describe("runtime: calls held bounded by bytes", () => {
  it("a node refuses calls past maxQueuedBytes of arguments; those it took answer", async () => {
    await eightCalls({ maxQueuedBytes: 16 * MiB }, /calls queued, with \d+ bytes/);
  });

  it("a scheduler refuses runs past maxInFlightBytes of arguments; those it took answer", async () => {
    await eightCalls({ maxInFlightBytes: 16 * MiB }, /runs in flight hold \d+ bytes/);
  });
});

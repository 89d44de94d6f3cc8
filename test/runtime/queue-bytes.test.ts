/**
 * A node bounds the calls it holds by the bytes of their arguments, not only by their count: past
 * `maxQueuedBytes`, a call is refused at once with OVERLOADED (retryable) while the calls it holds
 * go on and answer. In process, with one executor busy with the first call.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import { until } from "../support/processes.js";

const MiB = 1024 * 1024;

describe("runtime: a node's queue bounded by bytes", () => {
  let cloud: Stratus;

  before(async () => {
    cloud = await Stratus.local({ executors: 1, maxQueuedBytes: 16 * MiB });
    // Holds its executor until the key `go` is set, then answers its argument's size.
    await cloud.register("hold", async (ctx, x: Uint8Array) => {
      while ((await ctx.get("go")) !== true) await new Promise((r) => setTimeout(r, 5));
      return x.byteLength;
    });
  });

  after(async () => {
    await cloud?.close();
  });

  it("refuses calls past 16 MiB of arguments with OVERLOADED; those it took answer", async () => {
    const size = 3.5 * MiB;
    const outcomes: string[] = [];
    const calls = Array.from({ length: 8 }, (_, i) =>
      cloud.call<number>("hold", [new Uint8Array(size).fill(i)], { timeoutMs: 30_000 }).then(
        (n) => {
          assert.equal(n, size);
          outcomes.push("ok");
        },
        (e: unknown) => void outcomes.push(isStratusError(e) ? e.code : String(e)),
      ),
    );
    // Four fit in 16 MiB (14 MiB); the other four are refused while those four wait.
    await until(async () => outcomes.length >= 4, 20_000, "four calls to be refused");
    assert.deepEqual(outcomes, ["OVERLOADED", "OVERLOADED", "OVERLOADED", "OVERLOADED"]);
    await cloud.put("go", true);
    await Promise.all(calls);
    assert.deepEqual(outcomes.slice(4), ["ok", "ok", "ok", "ok"]);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import { connect } from "../../src/wire/index.js";

const hasCode = (code: string) => (e: unknown) => isStratusError(e) && e.code === code;

describe("runtime: executors on one node with one executor", () => {
  let cloud: Stratus;
  const token = "executors-test-token";
  before(async () => {
    cloud = await Stratus.local({ executors: 1, token });
    await cloud.register("leaf", (_ctx, x: number) => x + 1);
    await cloud.register(
      "mid",
      async (ctx, x: number) => 10 + (await ctx.call<number>("leaf", [x])),
    );
    await cloud.register(
      "outer",
      async (ctx, x: number) => 100 + (await ctx.call<number>("mid", [x])),
    );
  });
  after(() => cloud.close());

  it("runs nested calls three deep: outer -> mid -> leaf", async () => {
    assert.equal(await cloud.call("outer", [1]), 112);
  });

  it("runs more concurrent nested calls than executors", async () => {
    const xs = [0, 1, 2, 3, 4, 5];
    assert.deepEqual(
      await Promise.all(xs.map((x) => cloud.call("outer", [x]))),
      xs.map((x) => 111 + x),
    );
  });

  it("refuses a time limit that is not a finite positive number, in the SDK and the gateway", async () => {
    for (const bad of [Infinity, -Infinity, NaN, 0, -5, "100"]) {
      await assert.rejects(
        cloud.register("bad", () => 1, { timeoutMs: bad as number }),
        hasCode("INVALID_ARGUMENT"),
      );
    }
    // The gateway on its own, as any client (not only this SDK) may send fn.register.
    const conn = await connect(cloud.url as string, { token, role: "client", id: "raw" });
    try {
      for (const bad of [Infinity, NaN, 0, -5, "100"]) {
        await assert.rejects(
          conn.request("fn.register", { name: "bad", source: "() => 1", timeoutMs: bad }),
          hasCode("INVALID_ARGUMENT"),
        );
      }
      await conn.request("fn.register", { name: "good", source: "() => 1", timeoutMs: 5_000 });
    } finally {
      await conn.close();
    }
    assert.equal(await cloud.call("good", []), 1);
  });

  it("gives a nested call its caller's remaining time, not a fresh deadline, and frees both at the run's deadline", async () => {
    await cloud.register(
      "sleeper",
      () => new Promise((resolve) => setTimeout(() => resolve("woke"), 60_000)),
      { timeoutMs: 120_000 },
    );
    await cloud.register(
      "impatient",
      async (ctx) => {
        await ctx.call("sleeper", []);
        return "returned";
      },
      { timeoutMs: 120_000 },
    );
    // The run may take 1.5 s; the nested call inherits that, not the 120 s default.
    await assert.rejects(cloud.call("impatient", [], { timeoutMs: 1_500 }), hasCode("TIMEOUT"));
    // Neither holds the node's one executor past the run's deadline (their own limits are two
    // minutes): a call that may take 15 s runs.
    assert.equal(await cloud.call("good", [], { timeoutMs: 15_000 }), 1);
  });
});

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

  it("refuses a concurrency that is not an integer from 1 to 1024, in the SDK and the gateway", async () => {
    for (const bad of [0, -1, 1.5, NaN, 1025, "2"]) {
      await assert.rejects(
        cloud.register("bad", () => 1, { concurrency: bad as number }),
        hasCode("INVALID_ARGUMENT"),
      );
    }
    const conn = await connect(cloud.url as string, { token, role: "client", id: "raw-c" });
    try {
      for (const bad of [0, 1.5, 1025, "2"]) {
        await assert.rejects(
          conn.request("fn.register", { name: "bad", source: "() => 1", concurrency: bad }),
          hasCode("INVALID_ARGUMENT"),
        );
      }
    } finally {
      await conn.close();
    }
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

describe("runtime: a function's concurrency on a node with one executor", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 1, token: "concurrency-test-token" });
  });
  after(() => cloud.close());

  it("runs a function's invocations together on one executor up to its registered concurrency", async () => {
    // Each call waits until `n` calls have arrived in its executor: only calls running at once
    // can all return. ctx.state is per executor and version, shared by the calls there (so this
    // cluster has one executor and makes no nested calls, which could lend it a second).
    const meet = async (ctx: { state: unknown }, n: number) => {
      const s = ctx.state as { n: number; waiters: (() => void)[] };
      if (++s.n >= n) for (const w of s.waiters.splice(0)) w();
      else await new Promise<void>((r) => s.waiters.push(r));
      return "met";
    };
    const init = () => ({ n: 0, waiters: [] });
    await cloud.register("meet4", meet, { concurrency: 4, init });
    const four = [0, 1, 2, 3].map(() => cloud.call("meet4", [4]));
    assert.deepEqual(await Promise.all(four), ["met", "met", "met", "met"]);
    // Control: one at a time, the first call waits for company that never comes.
    await cloud.register("meet2", meet, { concurrency: 1, init, timeoutMs: 300 });
    const two = [0, 1].map((): Promise<unknown> => cloud.call("meet2", [2]));
    await assert.rejects(two[0] as Promise<unknown>, hasCode("FUNCTION_TIMEOUT"));
    await Promise.allSettled(two);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError, ref } from "../../src/index.js";

/** Rejects with a StratusError carrying `code`; returns it for further checks. */
async function rejectsWith(
  p: Promise<unknown>,
  code: string,
): Promise<Error & { code: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    assert.ok(isStratusError(e), `expected a StratusError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, got a result`);
}

describe("runtime: Stratus.local public API", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 3 });
    await cloud.register("inc", async (_ctx, x: number) => x + 1);
    await cloud.register("square", (_ctx, x: number) => x * x);
    await cloud.registerDag("pipeline", {
      functions: ["inc", "square"],
      edges: [["inc", "square"]],
    });
  });
  after(async () => {
    await cloud.close();
  });

  it("calls a function and a DAG", async () => {
    assert.equal(await cloud.call("inc", [1]), 2);
    assert.equal(await cloud.callDag("pipeline", { inc: [1] }), 4);
    assert.equal(await cloud.callDag("pipeline", { inc: [9] }), 100);
  });

  it("resolves a future by push, and by id from another lookup", async () => {
    const fut = await cloud.callDag<number>("pipeline", { inc: [2] }, { future: true });
    assert.equal(await fut.get(), 9);
    assert.equal(await cloud.future<number>(fut.id).get(), 9);
  });

  it("resolves references on the executor, reads and deletes keys", async () => {
    await cloud.put("k", 5);
    assert.equal(await cloud.call("inc", [ref("k")]), 6);
    assert.equal(await cloud.get("k"), 5);
    await cloud.delete("k");
    assert.equal(await cloud.get("k"), undefined);
  });

  it("gives a function its upstream results in incoming-edge order", async () => {
    await cloud.register("a", () => "a");
    await cloud.register("b", () => "b");
    await cloud.register("join", (_ctx, x: string, y: string) => `${x}${y}`);
    await cloud.registerDag("ab", {
      functions: ["a", "b", "join"],
      edges: [
        ["b", "join"],
        ["a", "join"],
      ],
    });
    assert.equal(await cloud.callDag("ab", {}), "ba");
  });

  it("fires an anyOf function on its first upstream result", async () => {
    await cloud.register("fast", () => "fast");
    await cloud.register("slow", () => new Promise((r) => setTimeout(() => r("slow"), 300)));
    await cloud.register("first", (_ctx, v: string) => v);
    await cloud.registerDag("race", {
      functions: ["fast", "slow", "first"],
      edges: [
        ["fast", "first"],
        ["slow", "first"],
      ],
      anyOf: ["first"],
    });
    assert.equal(await cloud.callDag("race", {}), "fast");
  });

  it("rejects bad functions at registration with the reason", async () => {
    const broken = (): number => 1;
    broken.toString = () => "(ctx) => { return 1";
    const e1 = await rejectsWith(cloud.register("broken", broken), "BAD_FUNCTION");
    assert.match(e1.message, /broken/);
    const secret = 42;
    const e2 = await rejectsWith(
      cloud.register("captures", () => secret),
      "BAD_FUNCTION",
    );
    assert.match(e2.message, /secret/);
    await rejectsWith(cloud.call("missing", []), "NO_SUCH_FUNCTION");
    await rejectsWith(cloud.callDag("missing", {}), "NO_SUCH_DAG");
    await rejectsWith(
      cloud.registerDag("cyclic", {
        functions: ["inc", "square"],
        edges: [
          ["inc", "square"],
          ["square", "inc"],
        ],
      }),
      "BAD_DAG",
    );
  });

  it("returns FUNCTION_ERROR with the message and stack of what the function threw", async () => {
    await cloud.register("boom", () => {
      throw new Error("kaboom");
    });
    const e = await rejectsWith(cloud.call("boom", []), "FUNCTION_ERROR");
    assert.match(e.message, /kaboom/);
    const stack = e.details?.stack;
    assert.match(typeof stack === "string" ? stack : String(e.stack), /kaboom/);
  });

  it("kills only the worker of a function past its time limit", async () => {
    await cloud.register(
      "spin",
      () => {
        for (;;);
      },
      { timeoutMs: 200 },
    );
    const e = await rejectsWith(cloud.call("spin", []), "FUNCTION_TIMEOUT");
    assert.match(e.message, /spin/);
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => cloud.call("inc", [x])));
    assert.deepEqual(results, [2, 3, 4, 5, 6, 7]);
  });

  it("runs init once per executor and shows its result as ctx.state", async () => {
    await cloud.register(
      "withState",
      (ctx: { state: { loadedAt: number; model: string } }, x: number) => `${ctx.state.model}:${x}`,
      { init: () => ({ loadedAt: Date.now(), model: "m1" }) },
    );
    assert.equal(await cloud.call("withState", [3]), "m1:3");
  });

  it("reads its own writes inside a function and sees writes made elsewhere", async () => {
    await cloud.register("rw", async (ctx, key: string) => {
      const before = (await ctx.get<number>(key)) ?? 0;
      await ctx.put(key, before + 1);
      return [before, await ctx.get<number>(key)];
    });
    assert.deepEqual(await cloud.call("rw", ["c"]), [0, 1]);
    await cloud.put("c", 10);
    assert.deepEqual(await cloud.call("rw", ["c"]), [10, 11]);
    assert.equal(await cloud.get("c"), 11);
  });

  it("lets running functions message each other directly", async () => {
    await cloud.register("receiver", async (ctx) => {
      await ctx.put("receiver-id", ctx.id());
      return ctx.recv({ timeoutMs: 10_000 });
    });
    await cloud.register("sender", async (ctx) => {
      let to: string | undefined;
      while ((to = await ctx.get<string>("receiver-id")) === undefined) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await ctx.send(to, { hello: "there" });
      return to;
    });
    await cloud.delete("receiver-id");
    const [got, to] = await Promise.all([cloud.call("receiver", []), cloud.call("sender", [])]);
    assert.deepEqual(got, { hello: "there" });
    assert.match(String(to), /\./);
  });

  it("nests calls with ctx.call", async () => {
    await cloud.register("twice", async (ctx, x: number) =>
      ctx.call<number>("inc", [await ctx.call<number>("inc", [x])]),
    );
    assert.equal(await cloud.call("twice", [1]), 3);
  });

  it("refuses a wrong token with UNAUTHORIZED", async () => {
    const url = cloud.url as string;
    await rejectsWith(Stratus.connect(url, { token: "wrong" }), "UNAUTHORIZED");
    const status = await cloud.status();
    assert.equal(status.nodes.length, 1);
    assert.ok(status.functions.includes("inc"));
    assert.ok(status.dags.includes("pipeline"));
  });
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy } from "../../src/cli/deploy.js";
import { Stratus, dag, isStratusError, ref } from "../../src/index.js";
import type { FunctionHandle } from "../../src/index.js";
import type * as functions from "./fixtures/handle-functions.js";

/** Rejects (or throws) with a StratusError carrying `code`. */
async function rejectsWith(run: () => unknown, code: string): Promise<void> {
  try {
    await run();
  } catch (e) {
    assert.ok(isStratusError(e), `expected a StratusError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return;
  }
  assert.fail(`expected ${code}, got a result`);
}

describe("runtime: typed handles over Stratus.local", () => {
  let cloud: Stratus;
  let double: FunctionHandle<[x: number], number, "double">;
  before(async () => {
    cloud = await Stratus.local({ executors: 2 });
    double = await cloud.register("double", async (_ctx, x: number) => x * 2);
  });
  after(async () => {
    await cloud.close();
  });

  it("calls a function through the handle register returned", async () => {
    assert.equal(double.name, "double");
    assert.equal(await double.call(21), 42);
    await cloud.put("n", 5);
    assert.equal(await double.call(ref("n")), 10);
    assert.equal(await double.callWith([4], { timeoutMs: 10_000 }), 8);
  });

  it("calls by handle and by name with the handle's type", async () => {
    assert.equal(await cloud.call(double, [3]), 6);
    assert.equal(await cloud.call<typeof double>("double", [4]), 8);
    assert.equal(await cloud.call("double", [5]), 10);
  });

  it("types ctx.call by the callee's handle type and sends its name", async () => {
    const quadruple = await cloud.register("quadruple", async (ctx, x: number) => {
      const twice = await ctx.call<typeof double>("double", [x]);
      return ctx.call<typeof double>("double", [twice]);
    });
    assert.equal(await quadruple.call(5), 20);
  });

  it("gives ctx.state the init's type", async () => {
    const offset = await cloud.register("offset", async (ctx, x: number) => ctx.state.k + x, {
      init: () => ({ k: 100 }),
    });
    assert.equal(await offset.call(1), 101);
  });

  it("registers a built DAG and runs it by its handle, now or as a future", async () => {
    const inc = await cloud.register("inc", async (_ctx, x: number) => x + 1);
    const square = await cloud.register("square", (_ctx, x: number) => x * x);
    const pipeline = await cloud.registerDag("pipeline", dag(inc).to(square));
    assert.equal(pipeline.name, "pipeline");
    assert.equal(await pipeline.call({ inc: [1] }), 4);
    assert.equal(await cloud.callDag(pipeline, { inc: [2] }), 9);
    const fut = await pipeline.call({ inc: [3] }, { future: true });
    assert.equal(await fut.get(), 16);
    assert.equal(await cloud.callDag("pipeline", { inc: [4] }), 25);
  });

  it("feeds a joined layer the results of the layer before, in order", async () => {
    const a = await cloud.register("h_a", (_ctx, x: number) => `a${x}`);
    const b = await cloud.register("h_b", () => "b");
    const join2 = await cloud.register("h_join", (_ctx, x: string, y: string) => `${x}+${y}`);
    const len = await cloud.register("h_len", (_ctx, s: string) => s.length);
    const built = dag(a, b).to(join2).to(len);
    assert.deepEqual(built.spec(), {
      functions: ["h_a", "h_b", "h_join", "h_len"],
      edges: [
        ["h_a", "h_join"],
        ["h_b", "h_join"],
        ["h_join", "h_len"],
      ],
    });
    const joined = await cloud.registerDag("joined", dag(a, b).to(join2));
    assert.equal(await joined.call({ h_a: [1] }), "a1+b");
    const measured = await cloud.registerDag("measured", built);
    assert.equal(await measured.call({ h_a: [10] }), "a10+b".length);
  });

  it("runs a first-of layer on the first upstream result", async () => {
    const fast = await cloud.register("h_fast", () => "fast");
    const slow = await cloud.register(
      "h_slow",
      () => new Promise<string>((r) => setTimeout(() => r("slow"), 300)),
    );
    const first = await cloud.register("h_first", (_ctx, v: string) => v);
    const race = await cloud.registerDag("h_race", dag(fast, slow).toFirst(first));
    assert.deepEqual(dag(fast, slow).toFirst(first).spec().anyOf, ["h_first"]);
    assert.equal(await race.call({}, { timeoutMs: 10_000 }), "fast");
  });

  it("calls a deployed module's functions through a typed client", async () => {
    const report = await deploy(
      cloud,
      join(import.meta.dirname, "fixtures", "handle-functions.ts"),
    );
    assert.deepEqual(report.functions.sort(), ["greet", "triple"]);
    const fns = cloud.client<typeof functions>();
    assert.equal(await fns.triple(7), 21);
    assert.equal(await fns.greet("you"), "hello you!");
    assert.equal(await fns.greet("you", "?"), "hello you?");
    const triple = cloud.handle<typeof functions.triple>("triple");
    assert.equal(await triple.call(2), 6);
    // A promise may resolve to the client: it is not a thenable.
    assert.equal(await Promise.resolve(fns), fns);
  });

  it("refuses a plain function where a handle or name belongs", async () => {
    const plain = async (_ctx: unknown, x: number) => x;
    await rejectsWith(() => cloud.call(plain as never, [1]), "INVALID_ARGUMENT");
    await rejectsWith(() => dag(plain as never), "BAD_DAG");
    await rejectsWith(() => dag(double).to(double as never), "BAD_DAG");
  });
});

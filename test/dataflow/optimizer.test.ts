/**
 * The optimizer passes on a cluster of separate StratusProcesses (a scheduler and two nodes of
 * one executor each) over a real Redis, talking over real sockets: fusion saves invocations,
 * competitive execution cancels the losing replica (its executor is free at once), locality runs
 * the continuation of a lookup on the node caching the key, batching hands a batch map rows of
 * several concurrent runs.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Flow, Stratus } from "../../src/index.js";
import { RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

const TOKEN = "dataflow-token";
const A = "df-a";
const B = "df-b";

describe("dataflow optimizer passes on a 2-node cluster over Redis", () => {
  let own: RedisServer | undefined;
  const procs: StratusProcess[] = [];
  let cloud: Stratus;
  let nodeA: StratusProcess;
  let nodeB: StratusProcess;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=df-${randomUUID().slice(0, 8)}:`;
    const common = { token: TOKEN, store, heartbeatMs: 100 };
    const pin = {
      hog: A,
      probe: A,
      warmA: A,
      warmB: B,
      "flow.cmp.input": B,
      "flow.cmp.work.r0": A,
      "flow.cmp.work.r1": B,
      "flow.cmp.work.pick": B,
      "flow.chain-on.chain3": A,
      "flow.chain-off.input": A,
      "flow.chain-off.chain1": A,
      "flow.chain-off.chain2": A,
      "flow.chain-off.chain3": A,
    };
    const sched = await StratusProcess.start({ ...common, executors: 0, pin });
    nodeA = await StratusProcess.start({ ...common, id: A, scheduler: false, executors: 1 });
    nodeB = await StratusProcess.start({ ...common, id: B, scheduler: false, executors: 1 });
    procs.push(sched, nodeA, nodeB);
    cloud = await Stratus.connect(sched.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
  });

  after(async () => {
    await cloud?.close();
    for (const p of procs.reverse()) await p.close();
    await own?.stop();
  });

  const completed = (p: StratusProcess): number => p.node?.stats().pool.completed ?? 0;

  it("fusion: a 3-stage chain runs as one invocation instead of four", async () => {
    const counts: Record<string, number> = {};
    for (const fusion of [false, true]) {
      const name = fusion ? "chain-on" : "chain-off";
      const flow = Flow.create(name, { x: "number" });
      const s1 = flow.input.map("chain1", (ctx, r) => ({ x: (r.x ?? 0) + 1 }), {
        schema: { x: "number" },
      });
      const s2 = s1.map("chain2", (ctx, r) => ({ x: (r.x ?? 0) * 10 }), {
        schema: { x: "number" },
      });
      const s3 = s2.map("chain3", (ctx, r) => ({ x: (r.x ?? 0) - 1 }), { schema: { x: "number" } });
      const app = await flow.output(s3).deploy(cloud, { optimize: { fusion } });
      assert.equal(app.metadata.functions.length, fusion ? 1 : 4);
      const before = completed(nodeA);
      assert.deepEqual(await app.run([{ x: 1 }, { x: 2 }]), [{ x: 19 }, { x: 29 }]);
      counts[name] = completed(nodeA) - before;
    }
    assert.deepEqual(counts, { "chain-off": 4, "chain-on": 1 });
  });

  it("compete: the losing replica is cancelled and its executor is free at once", async () => {
    // Alone in its executor (concurrency 1): nothing starts beside it.
    await cloud.register("hog", async () => new Promise((r) => setTimeout(r, 60_000)), {
      timeoutMs: 2_000,
      concurrency: 1,
    });
    await cloud.register("probe", async (ctx) => ctx.id());
    // Control: a long call occupies A's only executor, and a call behind it cannot start.
    const hog = cloud.call("hog", []);
    await until(async () => (nodeA.node?.stats().pool.busy ?? 0) === 1, 10_000, "hog running");
    await assert.rejects(cloud.call("probe", [], { timeoutMs: 500 }), { code: "TIMEOUT" });
    await assert.rejects(hog, { code: "FUNCTION_TIMEOUT" });

    const flow = Flow.create("cmp", { x: "number" });
    const work = flow.input.map(
      "work",
      async (ctx, r) => {
        // Replica r0 (pinned to df-a) is the straggler: far slower than the test's patience.
        if (ctx.id().startsWith("df-a.")) await new Promise((res) => setTimeout(res, 60_000));
        return { x: r.x, on: ctx.id().split(".")[0] ?? "" };
      },
      { schema: { x: "number", on: "string" }, highVariance: true, replicas: 2 },
    );
    const app = await flow.output(work).deploy(cloud);
    assert.deepEqual(app.metadata.functions.find((f) => f.name === "flow.cmp.work")?.copies, [
      "flow.cmp.work.r0",
      "flow.cmp.work.r1",
    ]);
    const interrupted = nodeA.node?.cancels.interrupted ?? 0;
    assert.deepEqual(await app.run([{ x: 5 }]), [{ x: 5, on: B }]);
    // The cancel reached A and interrupted r0; A's executor takes the next call at once.
    assert.ok((await cloud.call<string>("probe", [], { timeoutMs: 20_000 })).startsWith(`${A}.`));
    assert.equal((nodeA.node?.cancels.interrupted ?? 0) - interrupted, 1);

    const off = await flow.deploy(cloud, { optimize: { compete: false } });
    assert.deepEqual(
      off.metadata.functions.map((f) => f.copies.length),
      off.metadata.functions.map(() => 1),
    );
  });

  it("locality: the stage after a dynamic lookup runs on the node caching the key", async () => {
    const big = (n: number): Float32Array => new Float32Array(64 * 1024).fill(n);
    await cloud.put("cat/1", big(1));
    await cloud.put("cat/2", big(2));
    await cloud.register("warmA", async (ctx, k: string) => void (await ctx.get(k)));
    await cloud.register("warmB", async (ctx, k: string) => void (await ctx.get(k)));
    // Each node must announce its new key before the run (the earlier tests left keys cached).
    const cachedBefore = new Map((await cloud.status()).nodes.map((n) => [n.id, n.cachedKeys]));
    await cloud.call("warmA", ["cat/1"]);
    await cloud.call("warmB", ["cat/2"]);
    await until(
      async () =>
        (await cloud.status()).nodes.every((n) => n.cachedKeys > (cachedBefore.get(n.id) ?? 0)),
      10_000,
      "both nodes to advertise their newly cached keys",
    );
    const where: Record<string, Record<string, string>> = {};
    // The pass first: the control reads both keys on one node, which then caches both.
    for (const locality of [true, false]) {
      const flow = Flow.create(`near-${locality}`, { c: "number" });
      const looked = flow.input.lookup((r) => `cat/${r.c}`, { as: "m", type: "tensor" });
      const placed = looked.map(
        "where",
        (ctx, r) => ({
          c: r.c,
          first: (r.m as Float32Array)[0] ?? -1,
          on: ctx.id().split(".")[0] ?? "",
        }),
        { schema: { c: "number", first: "number", on: "string" } },
      );
      const app = await flow.output(placed).deploy(cloud, { optimize: { locality } });
      const out = await app.run([{ c: 1 }, { c: 2 }, { c: 1 }]);
      assert.deepEqual(out.map((r) => [r.c, r.first]).sort(), [
        [1, 1],
        [1, 1],
        [2, 2],
      ]);
      where[String(locality)] = Object.fromEntries(out.map((r) => [String(r.c), String(r.on)]));
    }
    // Control: without the pass one function handles every row, on one node.
    assert.equal(where.false?.["1"], where.false?.["2"]);
    assert.deepEqual(where.true, { "1": A, "2": B });
  });

  it("batching: a batch map receives the rows of concurrent runs together", async () => {
    const sizes: Record<string, number[]> = {};
    for (const batching of [false, true]) {
      const flow = Flow.create(`batch-${batching}`, { x: "number" });
      const m = flow.input.map(
        "size",
        (ctx, rows) => rows.map((r) => ({ x: r.x, n: rows.length })),
        { schema: { x: "number", n: "number" }, batch: true },
      );
      const app = await flow
        .output(m)
        .deploy(cloud, { optimize: { batching }, batch: { maxRows: 8, latencyTargetMs: 2_000 } });
      const outs = await Promise.all(Array.from({ length: 16 }, (_, x) => app.run([{ x }])));
      outs.forEach((o, x) => assert.equal(o[0]?.x, x));
      sizes[String(batching)] = outs.map((o) => Number(o[0]?.n));
    }
    assert.ok(
      sizes.false?.every((n) => n === 1),
      `unbatched sizes ${String(sizes.false)}`,
    );
    assert.ok(
      sizes.true?.every((n) => n === 8),
      `batched sizes ${String(sizes.true)}`,
    );
  });
});

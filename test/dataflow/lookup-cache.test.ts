/**
 * Looked-up tensors come from the executor's cache of stored values as one shared instance, not
 * a copy per run (the recommender reads a 5 MB matrix on every request). Over a real Redis, on a
 * node of one executor so every call meets the same worker cache: the instance is reused (the
 * control showing the cache serves it), a new write is seen by the very next run, and a caller
 * that breaks the rule and changes the instance harms only itself.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Flow, Stratus } from "../../src/index.js";
import { RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

const TOKEN = "lookup-cache-token";

describe("shared reads of cached tensors", () => {
  let own: RedisServer | undefined;
  const procs: StratusProcess[] = [];
  let cloud: Stratus;
  let writer: Stratus;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=lc-${randomUUID().slice(0, 8)}:`;
    const common = { token: TOKEN, store, heartbeatMs: 100 };
    const sched = await StratusProcess.start({ ...common, executors: 0 });
    // The writer's process is another node's: its writes reach ours through the change stream.
    const other = await StratusProcess.start({ ...common, executors: 0 });
    const node = await StratusProcess.start({ ...common, scheduler: false, executors: 1 });
    procs.push(sched, other, node);
    cloud = await Stratus.connect(sched.url, { token: TOKEN });
    writer = await Stratus.connect(other.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 1, 10_000, "1 node");
  });

  after(async () => {
    await cloud?.close();
    await writer?.close();
    for (const p of procs.reverse()) await p.close();
    await own?.stop();
  });

  const matrix = (first: number): Float32Array => {
    const m = new Float32Array(256 * 1024).fill(0.5);
    m[0] = first;
    return m;
  };

  it("hands out one instance while it is unchanged; a changed one goes to its caller alone", async () => {
    await writer.put("m/1", matrix(1));
    await cloud.register("reads", async (ctx, k: string) => {
      const a = await ctx.get<Float32Array>(k, { shared: true });
      const b = await ctx.get<Float32Array>(k, { shared: true });
      const plain = await ctx.get<Float32Array>(k);
      return [a === b, a === plain, a?.[0]];
    });
    // Control: plain gets are copies, shared ones the same instance.
    assert.deepEqual(await cloud.call("reads", ["m/1"]), [true, false, 1]);
    await cloud.register("spoil", async (ctx, k: string) => {
      const a = await ctx.get<Float32Array>(k, { shared: true });
      if (a !== undefined) a[0] = -7;
      const b = await ctx.get<Float32Array>(k, { shared: true });
      return [a === b, b?.[0]];
    });
    assert.deepEqual(await cloud.call("spoil", ["m/1"]), [false, 1]);
    assert.deepEqual(await cloud.call("reads", ["m/1"]), [true, false, 1]);
  });

  it("a lookup never serves an older copy: a new matrix is seen once the node learns of it", async () => {
    await writer.put("m/2", matrix(1));
    const flow = Flow.create("lookup-cache", { k: "string" });
    const looked = flow.input.lookup((r) => String(r.k), { as: "m", type: "tensor" });
    const seen = looked.map(
      "seen",
      (ctx, r) => {
        // Whether this run got the instance the previous run did: the worker cache at work.
        const g = globalThis as { lastLookup?: unknown };
        const same = g.lastLookup === r.m;
        g.lastLookup = r.m;
        return { first: (r.m as Float32Array)[0] ?? NaN, same };
      },
      { schema: { first: "number", same: "boolean" } },
    );
    const app = await flow.output(seen).deploy(cloud);
    assert.deepEqual(await app.run([{ k: "m/2" }]), [{ first: 1, same: false }]);
    // Control: unchanged, the next run gets the very same instance, uncopied.
    assert.deepEqual(await app.run([{ k: "m/2" }]), [{ first: 1, same: true }]);
    for (const v of [2, 3, 4]) {
      await writer.put("m/2", matrix(v));
      // Written from another process: the node learns of it from Redis's change stream, so a
      // read right after the write may still see the old version; never after that.
      await until(
        async () => (await app.run([{ k: "m/2" }]))[0]?.first === v,
        10_000,
        `the run to see matrix ${v}`,
      );
      assert.deepEqual(await app.run([{ k: "m/2" }]), [{ first: v, same: true }]);
    }
  });
});

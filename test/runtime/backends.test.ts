/**
 * The runtime over every storage backend: registration, DAGs, references, futures and node
 * caches work the same on the embedded memory store, Redis and Redis Cluster.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Stratus, ref } from "../../src/index.js";
import { BACKENDS, BackendFixture } from "../../testing/backends.js";

for (const backend of BACKENDS) {
  describe(`runtime over ${backend}`, () => {
    const fixture = new BackendFixture(backend);
    let cloud: Stratus | undefined;
    after(async () => {
      await cloud?.close();
      await fixture.teardown();
    });

    it("registers, calls DAGs, resolves references and futures, reads its writes", async () => {
      cloud = await Stratus.local({ executors: 2, store: await fixture.open() });
      await cloud.register("inc", async (_ctx, x: number) => x + 1);
      await cloud.register("square", (_ctx, x: number) => x * x);
      await cloud.registerDag("pipeline", {
        functions: ["inc", "square"],
        edges: [["inc", "square"]],
      });
      assert.equal(await cloud.callDag("pipeline", { inc: [2] }), 9);
      await cloud.put("n", 41);
      assert.equal(await cloud.call("inc", [ref("n")]), 42);
      const fut = await cloud.callDag<number>("pipeline", { inc: [3] }, { future: true });
      assert.equal(await fut.get(), 16);
      assert.equal(await cloud.future<number>(fut.id).get(), 16);
      await cloud.register("bump", async (ctx, key: string) => {
        await ctx.put(key, ((await ctx.get<number>(key)) ?? 0) + 1);
        return ctx.get<number>(key);
      });
      assert.equal(await cloud.call("bump", ["c"]), 1);
      assert.equal(await cloud.call("bump", ["c"]), 2);
      assert.equal(await cloud.get("c"), 2);
      const status = await cloud.status();
      assert.equal(status.backend, backend);
    });
  });
}

/**
 * The levels through the public API on one embedded node: a causal write is read back as its
 * value by `get` and as its one version by `getVersions`, a nested call runs at its caller's
 * level, and an lww value read under repeatable-read keeps its version for the whole run.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";

describe("consistency levels through the API", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 2 });
    await cloud.register("write", async (ctx, k: string, v: number) => {
      await ctx.put(k, v);
      return [await ctx.get(k), await ctx.getVersions(k), (await ctx.getLattice(k))?.kind];
    });
    await cloud.register("twice", async (ctx, k: string) => {
      const a = await ctx.get(k);
      await ctx.call("bump", [k]);
      return [a, await ctx.get(k)];
    });
    await cloud.register("bump", async (ctx, k: string) => {
      await ctx.put(`${k}-nested`, 1);
      return (await ctx.getLattice(`${k}-nested`))?.kind;
    });
  });
  after(async () => {
    await cloud.close();
  });

  it("causal: get returns the value, getVersions its versions, stored as an mcausal lattice", async () => {
    assert.deepEqual(await cloud.call("write", ["c1", 5], { consistency: "causal" }), [
      5,
      [5],
      "mcausal",
    ]);
    assert.deepEqual(await cloud.call("write", ["l1", 5], { consistency: "lww" }), [5, [5], "lww"]);
  });

  it("a nested call inherits its caller's level", async () => {
    await cloud.call("twice", ["n1"], { consistency: "transactional-causal" });
    assert.equal((await cloud.getLattice("n1-nested"))?.kind, "mcausal");
  });

  it("repeatable-read: a key changed mid-run is read at its first version", async () => {
    await cloud.put("rr1", 1);
    await cloud.register("reread", async (ctx, k: string) => {
      const a = await ctx.get(k);
      await ctx.call("set2", [k]);
      return [a, await ctx.get(k)];
    });
    await cloud.register("set2", async (ctx, k: string) => {
      await ctx.put(k, 2);
    });
    // The nested call writes under its own session; the caller still sees its first version.
    assert.deepEqual(
      await cloud.call("reread", ["rr1"], { consistency: "repeatable-read" }),
      [1, 1],
    );
    assert.deepEqual(await cloud.call("reread", ["rr1"], { consistency: "lww" }), [2, 2]);
  });
});

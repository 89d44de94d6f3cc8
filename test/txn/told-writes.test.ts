/**
 * In a read-atomic run a function's writes are buffered, so its `put`, `merge` and `delete` do
 * not wait for the node (see test/executor/told-writes.test.ts). What the function sees must not
 * change: its own writes, in order, across a fused chain; and a write the run refuses fails the
 * run with nothing committed, although the function went on and returned.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import type { Store } from "../../src/storage/index.js";
import { BackendFixture } from "../../testing/backends.js";
import type { BackendName } from "../../testing/backends.js";

const RA = { consistency: "read-atomic", retries: 0 } as const;

for (const backend of ["memory", "memory-log", "redis"] as BackendName[]) {
  describe(`read-atomic writes told, not awaited, over ${backend}`, () => {
    const fixture = new BackendFixture(backend);
    let cloud: Stratus;
    let store: Store;
    before(async () => {
      store = await fixture.open();
      cloud = await Stratus.local({ executors: 2, store });
      await cloud.register("tw_first", async (ctx, k: string) => {
        await ctx.put(k + "/a", 1);
        await ctx.merge(k + "/n", ctx.lattices.counter(2));
        await ctx.put(k + "/a", 2); // the later put wins
        await ctx.merge(k + "/n", ctx.lattices.counter(3));
        await ctx.put(k + "/gone", "x");
        await ctx.delete(k + "/gone");
        return [await ctx.get(k + "/a"), await ctx.get(k + "/n"), await ctx.get(k + "/gone")];
      });
      await cloud.register("tw_second", async (ctx, seen: unknown[]) => {
        const k = "tw";
        await ctx.merge(k + "/n", ctx.lattices.counter(1));
        return { seen, then: [await ctx.get(k + "/a"), await ctx.get(k + "/n")] };
      });
      await cloud.registerDag("tw", {
        functions: ["tw_first", "tw_second"],
        edges: [["tw_first", "tw_second"]],
      });
      await cloud.register("tw_clash", async (ctx, k: string) => {
        await ctx.put(k + "/ok", "written first");
        await ctx.put(k + "/x", "a plain value");
        await ctx.merge(k + "/x", ctx.lattices.counter(1)); // another kind: refused
        return "returned";
      });
      await cloud.register("tw_after", async (_ctx, v: string) => v + " and went on");
      await cloud.registerDag("tw_clash_dag", {
        functions: ["tw_clash", "tw_after"],
        edges: [["tw_clash", "tw_after"]],
      });
      await cloud.register("tw_badkey", async (ctx) => {
        try {
          await ctx.put("", 1);
          return "no error";
        } catch (e) {
          return (e as { code?: string }).code;
        }
      });
    });
    after(async () => {
      await cloud?.close();
      await fixture.teardown();
    });

    it("a function reads its own writes in order, and the next function of the chain too", async () => {
      const out = await cloud.callDag("tw", { tw_first: ["tw"] }, RA);
      assert.deepEqual(out, { seen: [2, 5, undefined], then: [2, 6] });
      assert.equal(await cloud.get("tw/a"), 2);
      assert.equal(await cloud.get("tw/n"), 6);
      assert.equal(await cloud.get("tw/gone"), undefined);
    });

    it("a refused write fails the run, and none of its writes commit", async () => {
      await assert.rejects(
        cloud.call("tw_clash", ["c1"], RA),
        (e: { code?: string }) => e.code === "LATTICE_TYPE_MISMATCH",
      );
      await assert.rejects(
        cloud.callDag("tw_clash_dag", { tw_clash: ["c2"] }, RA),
        (e: { code?: string }) => e.code === "LATTICE_TYPE_MISMATCH",
      );
      for (const k of ["c1/ok", "c1/x", "c2/ok", "c2/x"])
        assert.equal(await cloud.get(k), undefined);
      // Control: at lww the put lands at once, and the refused merge reaches the function.
      await assert.rejects(
        cloud.call("tw_clash", ["c3"]),
        (e: { code?: string }) => e.code === "LATTICE_TYPE_MISMATCH",
      );
      assert.equal(await cloud.get("c3/ok"), "written first");
    });

    it("an empty key still fails the put itself", async () => {
      assert.equal(await cloud.call("tw_badkey", [], RA), "INVALID_KEY");
    });
  });
}

/**
 * 100,000 runs across the three levels leave nothing behind: no pinned versions (each run's sink
 * releases them everywhere it pinned), session metadata no larger at the end than early on, and
 * a heap that does not grow. In-process (testing/consistency/sim.ts) to fit the suite's time budget.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { FunctionContext } from "../../src/function/index.js";
import { SimCluster } from "../../testing/consistency/sim.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const heapMb = async (): Promise<number> => {
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

describe("consistency soak: 100,000 runs", () => {
  let sim: SimCluster;
  let peak = 0;
  before(async () => {
    sim = await SimCluster.start(20);
    // Keys per level: causal levels store another kind of value.
    sim.define("soak_a", "fresh1", async (ctx: FunctionContext, i: number, lv: string) => {
      if (i % 4 === 0) await ctx.put(`${lv}/w${i % 64}`, i);
      return [lv, await ctx.get(`${lv}/w${i % 64}`), await ctx.get(`${lv}/w${(i + 1) % 64}`)];
    });
    sim.define("soak_b", "lag", async (ctx: FunctionContext, up: unknown[]) => [
      // While runs are in flight, their reads are pinned.
      (peak = Math.max(peak, sim.pinned().pins)),
      ...up,
      await ctx.get(`${String(up[0])}/w${Number(up[1] ?? 0) % 64}`),
      await ctx.get(`${String(up[0])}/w1`),
    ]);
  });
  after(async () => {
    await sim.close();
  });

  it("leaves no pinned versions, metadata or memory growing", async () => {
    const levels = ["repeatable-read", "causal", "transactional-causal"] as const;
    let early = { heap: 0, meta: 0 };
    for (let i = 0; i < 100_000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          sim.run(
            levels[(i + j) % 3] as (typeof levels)[number],
            ["soak_a", "soak_b"],
            [i + j, levels[(i + j) % 3]],
          ),
        ),
      );
      if (i === 20_000) early = { heap: await heapMb(), meta: sim.maxMetaBytes };
    }
    await new Promise((r) => setImmediate(r));
    assert.ok(peak > 0, "runs pinned versions while they ran");
    assert.deepEqual(sim.pinned(), { runs: 0, pins: 0 });
    assert.equal(sim.maxMetaBytes, early.meta, "session metadata stopped growing");
    assert.ok(sim.maxMetaBytes < 4096, `${sim.maxMetaBytes} bytes of session metadata`);
    const grew = (await heapMb()) - early.heap;
    assert.ok(grew < 16, `heap grew ${grew.toFixed(1)} MB from run 20,000 to 100,000`);
  });
});

/**
 * Bounded growth: 100,000 calls, half of them futures, against one process. Futures' records
 * expire after the retention (or are deleted by the client that read them), so the store's key
 * count stays bounded while the load runs and falls back once it stops, and the process's heap
 * does not grow with the number of calls.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import type { Store } from "../../src/index.js";
import { until } from "../../testing/processes.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function count(store: Store, prefix: string): Promise<number> {
  let n = 0;
  for await (const _ of store.scan(prefix)) n++;
  return n;
}

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe("soak: 100,000 calls, half futures", () => {
  let proc: StratusProcess | undefined;
  let cloud: Stratus | undefined;
  after(async () => {
    await cloud?.close();
    await proc?.close();
  });

  it("keeps the store's keys and the heap within bounds", async () => {
    const RETENTION_MS = 1000;
    proc = await StratusProcess.start({
      token: "soak",
      executors: 2,
      futureRetentionMs: RETENTION_MS,
    });
    cloud = await Stratus.connect(proc.url, { token: "soak" });
    const c = cloud;
    await c.register("inc", (_ctx, x: number) => x + 1);
    await c.registerDag("one", { functions: ["inc"], edges: [] });
    const TOTAL = 100_000;
    let next = 0;
    let maxFutureKeys = 0;
    let baseline = 0;
    const work = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        if (i % 2 === 0) {
          assert.equal(await c.call("inc", [i]), i + 1);
        } else {
          const f = await c.callDag<number>("one", { inc: [i] }, { future: true });
          assert.equal(await f.get(), i + 1);
          // Half of the futures are deleted by their reader; the rest expire.
          if (i % 4 === 1) await f.delete();
        }
        if (i % 10_000 === 0) {
          if (i === 10_000) baseline = heapMb();
          maxFutureKeys = Math.max(maxFutureKeys, await count(proc!.store, "sys/fut/"));
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, work));
    const grown = heapMb() - baseline;
    // 25,000 futures expire rather than being deleted: unbounded, their records alone would
    // exceed this several times over before the load ends.
    assert.ok(maxFutureKeys < 10_000, `${maxFutureKeys} future records at once`);
    assert.ok(grown < 64, `heap grew by ${grown.toFixed(1)} MB over 90,000 calls`);
    await until(
      async () => (await count(proc!.store, "sys/fut/")) === 0,
      RETENTION_MS + 5_000,
      "every future record to expire",
    );
    const keys = await count(proc.store, "");
    // Functions, the DAG and this process's own node record: nothing per call remains.
    assert.ok(keys <= 5, `${keys} keys remain after the load`);
  });
});

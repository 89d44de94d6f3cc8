/**
 * Re-registering a function through a scheduler whose wall clock lags still replaces the code
 * everywhere: registration observes the stored definition's time and writes past it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { HybridClock, LwwLattice, Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

describe("registration through a scheduler whose clock lags", () => {
  let own: RedisServer | undefined;
  const procs: StratusProcess[] = [];
  const clients: Stratus[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(procs.map((p) => p.close()));
    await own?.stop();
  });

  it("replaces the code on every node", async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=lag-${randomUUID().slice(0, 8)}:`;
    const token = "lagging";
    const fast = await StratusProcess.start({ token, store, executors: 1, id: "fast" });
    procs.push(fast);
    const slow = await StratusProcess.start({
      token,
      store,
      executors: 1,
      id: "slow",
      clockOffsetMs: -10_000,
    });
    procs.push(slow);
    const viaFast = await Stratus.connect(fast.url, { token });
    const viaSlow = await Stratus.connect(slow.url, { token });
    clients.push(viaFast, viaSlow);
    await until(async () => (await viaFast.status()).nodes.length === 2, 10_000, "2 nodes");

    // Control: a definition written with a clock 10 s behind, observing nothing, loses.
    await viaFast.register("version", () => 1);
    const lagging = new HybridClock({ node: "control", now: () => Date.now() - 10_000 });
    const key = "sys/fn/version";
    const before = (await fast.store.get(key)) as LwwLattice;
    await fast.store.put(key, LwwLattice.of({ ...before.value<object>() }, lagging.now()));
    assert.equal(((await fast.store.get(key)) as LwwLattice).ts, before.ts, "control write won");

    await viaSlow.register("version", () => 2);
    // Every node runs the new code, through either scheduler (registries follow the store).
    for (const c of [viaFast, viaSlow]) {
      await until(
        async () => {
          const seen = await Promise.all(Array.from({ length: 6 }, () => c.call("version")));
          return seen.every((v) => v === 2);
        },
        10_000,
        "every call to run version 2",
      );
    }
  });
});

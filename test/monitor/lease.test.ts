/**
 * Only one monitor acts. Two schedulers with the autoscaler on (in this test process) and a node
 * (its own process), all over the runner's Redis: exactly one scheduler holds the lease and
 * resizes the node under load, the other never acts; when the acting one stops, the other takes
 * over. The lease itself is checked on the memory store: held, refused to a second holder, and
 * taken over once its holder stops renewing (its expiry in the store).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import { HybridClock } from "../../src/lattice/index.js";
import { Lease } from "../../src/monitor/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const TOKEN = "lease-token";

describe("monitor: with two schedulers exactly one acts", () => {
  let own: RedisServer | undefined;
  let node: Child;
  const scheds: StratusProcess[] = [];
  let cloud: Stratus;
  let load = true;
  let loops: Promise<void>[] = [];

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=ls-${randomUUID().slice(0, 8)}:`;
    for (const id of ["s1", "s2"]) {
      scheds.push(
        await StratusProcess.start({
          token: TOKEN,
          id,
          store,
          executors: 0,
          monitor: { intervalMs: 200, maxExecutors: 6, idleGraceMs: 60_000 },
        }),
      );
    }
    node = await startStratus(
      ["node", "--join", scheds[0]!.url, "--token", TOKEN, "--executors", "1", "--id", "ln"],
      /node (\S+) joined/,
    );
    cloud = await Stratus.connect(scheds[1]!.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 1, 10_000, "the node");
    // One call per executor, so 12 callers need the 6 executors the cap allows.
    await cloud.register(
      "nap",
      async () => {
        await new Promise((r) => setTimeout(r, 50));
        return 1;
      },
      { concurrency: 1 },
    );
  });

  after(async () => {
    load = false;
    await Promise.all(loops);
    await cloud?.close();
    await node?.stop();
    for (const s of scheds) await s.close();
    await own?.stop();
  });

  it("one holds the lease and resizes the node; the other never acts", async () => {
    loops = Array.from({ length: 12 }, async () => {
      while (load) await cloud.call("nap", []);
    });
    await until(
      async () => (await cloud.status()).nodes[0]?.executors === 6,
      15_000,
      "the node resized to 6",
    );
    const [a, b] = scheds.map((s) => s.monitor!) as [
      NonNullable<StratusProcess["monitor"]>,
      NonNullable<StratusProcess["monitor"]>,
    ];
    // Both ran rounds; one acted in every round it ran, the other in none.
    assert.ok(a.counts.rounds > 3 && b.counts.rounds > 3);
    const acting = [a, b].filter((m) => m.counts.acting > 0);
    assert.equal(acting.length, 1, `acting: ${a.counts.acting} and ${b.counts.acting}`);
    const idle = acting[0] === a ? b : a;
    assert.equal(idle.counts.resizes, 0);
    assert.equal(idle.decisions.length, 0);
    assert.ok(acting[0]!.counts.resizes >= 1);
    assert.ok(acting[0]!.acting && !idle.acting);
  });

  it("the other takes over when the acting one stops", async () => {
    const i = scheds.findIndex((s) => s.monitor!.acting);
    const [leader, other] = [scheds[i]!, scheds[1 - i]!];
    if (leader === scheds[1]) {
      // The client talks to scheds[1]: move it so the load keeps running.
      load = false;
      await Promise.all(loops);
    }
    await leader.close();
    scheds.splice(scheds.indexOf(leader), 1);
    await until(async () => other.monitor!.acting, 10_000, "the other monitor to take over");
    assert.ok(other.monitor!.counts.acting > 0);
  });
});

describe("monitor: the lease", () => {
  it("is held by one, refused to another, and taken over once not renewed", async () => {
    const store = await MemoryStore.open();
    try {
      const a = new Lease(store, new HybridClock({ node: "a" }), "a", 300);
      const b = new Lease(store, new HybridClock({ node: "b" }), "b", 300);
      assert.equal(await a.hold(), true);
      assert.equal(await b.hold(), false);
      assert.equal(await a.hold(), true); // renewed
      assert.equal(await b.hold(), false);
      // a stops renewing: its lease expires in the store and b gets it.
      await until(() => b.hold(), 5000, "b to take the lease over");
      assert.equal(await a.hold(), false);
      assert.equal(a.held, false);
      await b.release();
      assert.equal(await a.hold(), true);
    } finally {
      await store.close();
    }
  });
});

/**
 * Placement follows what nodes really cache, for every scheduler: two schedulers and two nodes
 * (StratusProcess instances, each with its own connections to one real Redis). A key read by an
 * earlier function's `ctx.get` on node A is in A's heartbeat, so calls referencing it land on A
 * through either scheduler, including the one that never placed anything before.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus, ref } from "../../src/index.js";
import { RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

const TOKEN = "locality-token";

describe("runtime: placement by the heartbeat's cached keys, through any scheduler", () => {
  let own: RedisServer | undefined;
  const procs: StratusProcess[] = [];
  let viaPinned: Stratus;
  let viaOther: Stratus;
  let nodeA: StratusProcess;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=loc-${randomUUID().slice(0, 8)}:`;
    const common = { token: TOKEN, store, heartbeatMs: 100 };
    // The first scheduler pins only `warm` (the function that fills A's cache), so that the key
    // lands on a known node; `where`, the function under test, is placed freely by both.
    const s1 = await StratusProcess.start({ ...common, executors: 0, pin: { warm: "loc-a" } });
    const s2 = await StratusProcess.start({ ...common, executors: 0 });
    nodeA = await StratusProcess.start({ ...common, id: "loc-a", scheduler: false, executors: 1 });
    const nodeB = await StratusProcess.start({
      ...common,
      id: "loc-b",
      scheduler: false,
      executors: 1,
    });
    procs.push(s1, s2, nodeA, nodeB);
    viaPinned = await Stratus.connect(s1.url, { token: TOKEN });
    viaOther = await Stratus.connect(s2.url, { token: TOKEN });
    for (const c of [viaPinned, viaOther])
      await until(async () => (await c.status()).nodes.length === 2, 10_000, "2 nodes");
    await viaPinned.register("warm", async (ctx, key: string) => {
      await ctx.get(key);
      return ctx.id();
    });
    await viaPinned.register("where", async (ctx, _v: unknown) => ctx.id());
  });

  after(async () => {
    await Promise.all([viaPinned?.close(), viaOther?.close()]);
    for (const p of procs.reverse()) await p.close();
    await own?.stop();
  });

  it("spreads calls without references over both nodes (control)", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const c = i % 2 === 0 ? viaPinned : viaOther;
      seen.add((await c.call<string>("where", [i])).split(".")[0] as string);
    }
    assert.deepEqual([...seen].sort(), ["loc-a", "loc-b"]);
  });

  it("sends calls referencing a key to the node whose ctx.get cached it, via either scheduler", async () => {
    await viaPinned.put("big", "x".repeat(256 * 1024));
    const warmedOn = await viaPinned.call<string>("warm", ["big"]);
    assert.ok(warmedOn.startsWith("loc-a."), `warm ran on ${warmedOn}`);
    // The heartbeat names the key as references do (`big`, not its storage key `u/big`).
    const advertised = nodeA.node?.info().cached.find(([k]) => k === "big");
    assert.ok(advertised !== undefined && advertised[1] >= 256 * 1024, "A does not list big");
    for (const c of [viaPinned, viaOther]) {
      await until(
        async () => (await c.status()).nodes.some((n) => n.id === "loc-a" && n.cachedKeys > 0),
        10_000,
        "the heartbeat listing A's cached key to reach the scheduler",
      );
    }
    for (let i = 0; i < 20; i++) {
      for (const [name, c] of [
        ["pinned scheduler", viaPinned],
        ["other scheduler", viaOther],
      ] as const) {
        const at = await c.call<string>("where", [ref("big")]);
        assert.ok(at.startsWith("loc-a."), `call ${i} through the ${name} ran on ${at}`);
      }
    }
  });
});

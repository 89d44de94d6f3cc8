/**
 * Exact state across processes over Redis: a scheduler and three nodes, each its own OS process.
 * Counters and sets merged concurrently by clients and by functions on every node lose nothing,
 * and a node whose wall clock runs 10 s behind still orders its writes after the writes it
 * causally follows (hybrid logical clocks), in storage and in every node's cache.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { HybridClock, LwwLattice, Stratus, lattices, openStore } from "../../src/index.js";
import { RedisServer } from "../../testing/redis.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const TOKEN = "exact-state-token";
const node = (id: string): string => id.split(".")[0] as string;

describe("runtime: exact state across a scheduler and 3 node processes over Redis", () => {
  let own: RedisServer | undefined;
  let store = "";
  const children: Child[] = [];
  const clients: Stratus[] = [];
  let cloud: Stratus;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    store = `${redis}?prefix=exact-${randomUUID().slice(0, 8)}:`;
    const sched = await startStratus(
      ["scheduler", "--store", store, "--token", TOKEN, "--placement", "spread"],
      /scheduler \S+ at (\S+)\n/,
    );
    children.push(sched);
    const nodes = await Promise.all(
      [
        ["fast1", []],
        ["fast2", []],
        // This node's wall clock is 10 s behind everyone else's.
        ["slow", ["--clock-offset-ms", "-10000"]],
      ].map(([id, extra]) =>
        startStratus(
          [
            "node",
            "--join",
            sched.ready,
            "--token",
            TOKEN,
            "--executors",
            "2",
            "--id",
            id as string,
            ...(extra as string[]),
          ],
          /node (\S+) joined/,
        ),
      ),
    );
    children.push(...nodes);
    for (let i = 0; i < 4; i++) clients.push(await Stratus.connect(sched.ready, { token: TOKEN }));
    cloud = clients[0] as Stratus;
    await until(async () => (await cloud.status()).nodes.length === 3, 10_000, "3 nodes");
    await cloud.register("inc", async (ctx, key: string) => {
      await ctx.merge(key, ctx.lattices.counter(1));
      return ctx.id();
    });
    await cloud.register("add", async (ctx, key: string, item: number) => {
      await ctx.merge(key, ctx.lattices.set([item]));
    });
    await cloud.register("write", async (ctx, key: string, v: number) => {
      await ctx.put(key, v);
      return { at: ctx.id(), v: await ctx.get(key) };
    });
    await cloud.register("read", async (ctx, key: string) => ({
      at: ctx.id(),
      v: await ctx.get(key),
    }));
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(children.map((c) => c.stop()));
    await own?.stop();
  });

  it("10,000 concurrent increments from clients and functions end at exactly 10,000", async () => {
    const key = `visits-${randomUUID()}`;
    const ran = new Set<string>();
    let sent = 0;
    // 4 clients, 64 in flight each: half merge directly, half through a function on a node.
    await Promise.all(
      clients.flatMap((c, ci) =>
        Array.from({ length: 64 }, async (_, w) => {
          while (sent < 10_000) {
            const i = sent++;
            if ((i + ci + w) % 2 === 0) await c.merge(key, lattices.counter(1));
            else ran.add(node(await c.call<string>("inc", [key])));
          }
        }),
      ),
    );
    assert.equal(await cloud.get(key), 10_000);
    assert.deepEqual([...ran].sort(), ["fast1", "fast2", "slow"], "every node incremented");
    // The control: read-modify-write from the same clients loses updates under this load.
    const rmw = `rmw-${randomUUID()}`;
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < 50; i++) {
          await Promise.all(
            Array.from({ length: 4 }, async () => {
              await c.put(rmw, ((await c.get<number>(rmw)) ?? 0) + 1);
            }),
          );
        }
      }),
    );
    assert.ok(((await cloud.get<number>(rmw)) ?? 0) < 800, "read-modify-write lost no update");
  });

  it("a set gets 10,000 distinct adds from clients and functions and loses none", async () => {
    const key = `set-${randomUUID()}`;
    let next = 0;
    await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: 64 }, async () => {
          while (next < 10_000) {
            const i = next++;
            if (i % 2 === 0) await c.merge(key, lattices.set([i]));
            else await c.call("add", [key, i]);
          }
        }),
      ),
    );
    const items = (await cloud.get<number[]>(key)) ?? [];
    assert.equal(items.length, 10_000);
    assert.equal(new Set(items).size, 10_000);
  });

  it("a node 10 s behind orders its writes after those it causally follows", async () => {
    // Control: a writer that observes nothing and runs 10 s behind loses to an earlier write.
    const direct = await openStore(store);
    const key0 = `control-${randomUUID()}`;
    await cloud.put(key0, 1);
    const lagging = new HybridClock({ node: "lagging", now: () => Date.now() - 10_000 });
    await direct.put(`u/${key0}`, LwwLattice.of(2, lagging.now()));
    assert.equal(await cloud.get(key0), 1, "the control write should have lost");
    await direct.close();

    let onSlow = 0;
    for (let i = 0; i < 24; i++) {
      const key = `skew-${i}-${randomUUID()}`;
      await cloud.put(key, 1);
      // Warm every node's cache with the first value.
      for (let r = 0; r < 3; r++)
        assert.equal((await cloud.call<{ v: number }>("read", [key])).v, 1);
      const w = await cloud.call<{ at: string; v: number }>("write", [key, 2]);
      if (node(w.at) === "slow") onSlow++;
      assert.equal(w.v, 2, `the writer on ${node(w.at)} read back its own write`);
      assert.equal(await cloud.get(key), 2, `storage kept the write made on ${node(w.at)}`);
      // Every node's cache converges on the later value (invalidations are asynchronous).
      const seen = new Map<string, number>();
      await until(
        async () => {
          for (let r = 0; r < 3; r++) {
            const got = await cloud.call<{ at: string; v: number }>("read", [key]);
            seen.set(node(got.at), got.v);
          }
          return seen.size === 3 && [...seen.values()].every((v) => v === 2);
        },
        10_000,
        `every cache to hold 2 for ${key}`,
      );
    }
    assert.ok(onSlow >= 4, `only ${onSlow} writes ran on the lagging node`);
  });
});

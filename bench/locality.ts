/**
 * locality: a function sums 10 arrays of 1M float64 (8 MB each) passed as references. Hot: the
 * scheduler places the call on the node whose cache holds them. Cold: nodes without a cache, so
 * every call fetches 80 MB from Redis. Blind: two datasets, two nodes whose caches hold one
 * dataset each, placement that ignores locality (round robin), datasets asked in random order.
 * Two schedulers: two schedulers and two nodes, each its own StratusProcess; a function's
 * `ctx.get`s (through the first scheduler) fill one node's cache, then the calls alternate between
 * both schedulers, which know where the data is only from the nodes' heartbeats. Cold fetch vs
 * raw: one 8 MiB reference read through a function on a node without a cache, against ioredis's
 * `getBuffer` of the same key, in alternating blocks.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { Stratus, ref } from "../src/index.js";
import { StratusProcess } from "../src/local/index.js";
import type { PlacementPolicy } from "../src/scheduler/index.js";
import { RedisStore } from "../src/storage/index.js";
import type { Store } from "../src/storage/index.js";
import { RedisServer } from "../testing/redis.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { blockRatio, interleaved, percentiles, putRatio, warmUp } from "./lib/measure.js";
import type { Interleaved } from "./lib/measure.js";

const p50 = (xs: number[]): number => percentiles(xs).p50;

const ARRAYS = 10;
const LENGTH = 1_000_000;
const MB = 1024 * 1024;
/**
 * Membership expiry for these processes: 80 MB of puts share Redis with the heartbeats, and on a
 * machine shared with other work a heartbeat can be seconds late; a node dropped mid-run would
 * fail the call with NO_RESOURCES, which is not what this benchmark measures.
 */
const expiryMs = 15_000;

/**
 * Each process's own Redis client, with a long command timeout: cold fetches of 80 MB can take
 * seconds on a loaded machine, and a timed-out fetch would end the run rather than measure it.
 */
const stores: Store[] = [];
async function storeFor(url: string, prefix: string): Promise<Store> {
  const s = await RedisStore.connect({ url, keyPrefix: prefix, opTimeoutMs: 120_000 });
  stores.push(s);
  return s;
}

interface Setup {
  cloud: Stratus;
  /** The key prefix of this cluster's store. */
  prefix: string;
  close(): Promise<void>;
}

/** A scheduler+node and a second node over one Redis, with the given cache size and placement. */
async function cluster(
  redisUrl: string,
  cacheBytes: number,
  placement: PlacementPolicy,
): Promise<Setup> {
  const token = randomUUID();
  const prefix = `loc-${token.slice(0, 8)}:`;
  const pool = cacheBytes === 0 ? { valueCacheBytes: 0 } : {};
  const main = await StratusProcess.start({
    token,
    store: await storeFor(redisUrl, prefix),
    expiryMs,
    executors: 1,
    cacheBytes,
    placement,
    pool,
  });
  const second = await StratusProcess.start({
    token,
    store: await storeFor(redisUrl, prefix),
    expiryMs,
    executors: 1,
    cacheBytes,
    scheduler: false,
    pool,
  });
  const cloud = await Stratus.connect(main.url, { token });
  while ((await cloud.status()).nodes.length < 2) await new Promise((r) => setTimeout(r, 20));
  await cloud.register("sum", (_ctx, ...arrays: Float64Array[]) => {
    let s = 0;
    for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] as number;
    return s;
  });
  await cloud.register("len", (_ctx, a: Float64Array) => a.length);
  return {
    cloud,
    prefix,
    async close() {
      await cloud.close();
      await second.close();
      await main.close();
    },
  };
}

/** Two schedulers without executors and two nodes without schedulers, over one Redis. */
async function twoSchedulers(redisUrl: string): Promise<Setup & { other: Stratus }> {
  const token = randomUUID();
  const prefix = `loc2-${token.slice(0, 8)}:`;
  const common = { token, expiryMs };
  const node = { executors: 1, scheduler: false, cacheBytes: 256 * MB };
  const procs = [
    await StratusProcess.start({
      ...common,
      executors: 0,
      store: await storeFor(redisUrl, prefix),
    }),
    await StratusProcess.start({
      ...common,
      executors: 0,
      store: await storeFor(redisUrl, prefix),
    }),
    await StratusProcess.start({ ...common, ...node, store: await storeFor(redisUrl, prefix) }),
    await StratusProcess.start({ ...common, ...node, store: await storeFor(redisUrl, prefix) }),
  ];
  const clients = await Promise.all(
    procs.slice(0, 2).map((p) => Stratus.connect(p.url, { token })),
  );
  const [cloud, other] = clients as [Stratus, Stratus];
  for (const c of clients)
    while ((await c.status()).nodes.length < 2) await new Promise((r) => setTimeout(r, 20));
  await cloud.register("sum", (_ctx, ...arrays: Float64Array[]) => {
    let s = 0;
    for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] as number;
    return s;
  });
  await cloud.register("warm", async (ctx, keys: string[]) => {
    for (const k of keys) await ctx.get(k);
    return ctx.id();
  });
  return {
    cloud,
    other,
    prefix,
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      for (const p of procs.reverse()) await p.close();
    },
  };
}

async function load(cloud: Stratus, dataset: string): Promise<number> {
  let total = 0;
  for (let k = 0; k < ARRAYS; k++) {
    const a = new Float64Array(LENGTH);
    for (let i = 0; i < LENGTH; i++) a[i] = (i % 97) + k;
    for (let i = 0; i < LENGTH; i++) total += a[i] as number;
    await cloud.put(`${dataset}/${k}`, a);
  }
  return total;
}

async function timeCalls(
  cloud: Stratus,
  datasets: string[],
  order: number[],
  expect: number[],
): Promise<number[]> {
  const times: number[] = [];
  for (const d of order) {
    const args = Array.from({ length: ARRAYS }, (_, k) => ref(`${datasets[d]}/${k}`));
    const t0 = performance.now();
    const s = await cloud.call<number>("sum", args);
    times.push(performance.now() - t0);
    if (s !== expect[d]) throw new Error(`sum ${s}, expected ${expect[d]}`);
  }
  return times;
}

const locality: Benchmark = {
  name: "locality",
  description: "sum of 10 x 8 MB references: warm cache vs cold fetch vs locality-blind placement",
  async run(ctx): Promise<Metrics> {
    const n = ctx.quick ? 8 : 20;
    const redis = await RedisServer.start();
    const m: Metrics = {};
    try {
      ctx.log("hot: locality-aware placement, 256 MB caches");
      const hot = await cluster(redis.url, 256 * MB, "locality");
      try {
        const expect = [await load(hot.cloud, "a")];
        await timeCalls(hot.cloud, ["a"], [0, 0], expect);
        m.hot_p50_ms = p50(
          await timeCalls(
            hot.cloud,
            ["a"],
            Array.from({ length: n }, () => 0),
            expect,
          ),
        );
      } finally {
        await hot.close();
      }
      ctx.log("cold: no cache, every call fetches from Redis");
      const cold = await cluster(redis.url, 0, "locality");
      try {
        const expect = [await load(cold.cloud, "a")];
        await timeCalls(cold.cloud, ["a"], [0], expect);
        m.cold_p50_ms = p50(
          await timeCalls(
            cold.cloud,
            ["a"],
            Array.from({ length: n }, () => 0),
            expect,
          ),
        );
      } finally {
        await cold.close();
      }
      ctx.log("cold fetch vs raw: one 8 MB reference through a function vs ioredis getBuffer");
      const one = await cluster(redis.url, 0, "locality");
      const raw = new Redis(redis.url);
      try {
        const a = new Float64Array(LENGTH);
        for (let i = 0; i < LENGTH; i++) a[i] = i;
        await one.cloud.put("one", a);
        const key = `${one.prefix}u/one`;
        const raw8 = await raw.getBuffer(key);
        if (raw8 === null || raw8.length < 8 * LENGTH)
          throw new Error("the raw read found no value");
        const ops = {
          fn: async () => {
            const n = await one.cloud.call<number>("len", [ref("one")]);
            if (n !== LENGTH) throw new Error(`len ${n}`);
          },
          raw: async () => void (await raw.getBuffer(key)),
        };
        // Both processes size their heaps to 8 MB reads over the first few dozen: until then
        // each read's garbage costs a full collection.
        await warmUp(ops, 1000);
        const sides = (await interleaved(
          ops,
          ctx.quick ? 60 : 150,
          ctx.quick ? 10 : 15,
          0,
        )) as Record<"fn" | "raw", Interleaved>;
        m.cold_fetch_p50_ms = sides.fn.p50;
        m.raw_get_8mib_p50_ms = sides.raw.p50;
        putRatio(m, "cold_fetch_vs_raw", blockRatio(sides.fn.blocks, sides.raw.blocks));
      } finally {
        raw.disconnect();
        await one.close();
      }
      ctx.log("blind: round-robin placement, caches that hold one dataset, two datasets");
      const blind = await cluster(redis.url, 100 * MB, "spread");
      try {
        const expect = [await load(blind.cloud, "a"), await load(blind.cloud, "b")];
        const order = Array.from({ length: n * 2 }, () => (Math.random() < 0.5 ? 0 : 1));
        await timeCalls(blind.cloud, ["a", "b"], [0, 1], expect);
        m.blind_p50_ms = p50(await timeCalls(blind.cloud, ["a", "b"], order, expect));
      } finally {
        await blind.close();
      }
      ctx.log("two schedulers: data cached by a function's ctx.get, calls through both schedulers");
      const two = await twoSchedulers(redis.url);
      try {
        const expect = [await load(two.cloud, "a")];
        const keys = Array.from({ length: ARRAYS }, (_, k) => `a/${k}`);
        const warmNode = (await two.cloud.call<string>("warm", [keys])).split(".")[0];
        // The schedulers learn what the node caches from its heartbeat; wait until both have.
        for (const c of [two.cloud, two.other]) {
          while (!(await c.status()).nodes.some((x) => x.id === warmNode && x.cachedKeys >= ARRAYS))
            await new Promise((r) => setTimeout(r, 20));
        }
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const c = i % 2 === 0 ? two.other : two.cloud;
          times.push(...(await timeCalls(c, ["a"], [0], expect)));
        }
        m.hot_two_schedulers_p50_ms = p50(times);
      } finally {
        await two.close();
      }
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await redis.stop();
    }
    m.hot_vs_cold = (m.cold_p50_ms ?? 0) / (m.hot_p50_ms ?? 1);
    m.hot_vs_cold_two_schedulers = (m.cold_p50_ms ?? 0) / (m.hot_two_schedulers_p50_ms ?? 1);
    m.hot_vs_blind = (m.blind_p50_ms ?? 0) / (m.hot_p50_ms ?? 1);
    return m;
  },
};
export default locality;

/**
 * Storage benchmark: get and merge-put latency and throughput through our Store, for the memory
 * backend, one Redis server and a 3-master Redis Cluster, at 100 B and 100 KB values; and, on the
 * same servers in the same run, `redis-benchmark -t get -n 200000` (50 clients, no pipelining)
 * as the native baseline. Our client pipelines automatically, so `redis-benchmark -P 16` is
 * reported as well (`redis_vs_pipelined_native`): the headroom a pipelined client has left; and
 * a bare ioredis client doing the same gets (`ioredis_vs_pipelined_native`, `redis_vs_ioredis`),
 * to tell Node's client from our Store.
 */
import { spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { HybridClock, LwwLattice } from "../src/lattice/index.js";
import { MemoryStore, RedisStore } from "../src/storage/index.js";
import type { Store } from "../src/storage/index.js";
import { RedisCluster, RedisServer } from "../testing/redis.js";
import type { BenchContext, Benchmark, Metrics } from "./lib/harness.js";
import { sequentialLatency, throughput } from "./lib/measure.js";

const SMALL = "x".repeat(100 - 3); // 100 bytes once msgpack adds its string header
const LARGE = "y".repeat(100 * 1024 - 5);
const KEYS = 1000;
const LARGE_KEYS = 64;

function nativeGetOps(port: number, cluster: boolean, n: number, pipeline = 1): number {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", "get", "-n", String(n), "-q"];
  if (cluster) args.push("--cluster");
  if (pipeline > 1) args.push("-P", String(pipeline));
  const r = spawnSync("redis-benchmark", args, { encoding: "utf8" });
  // Output lines look like "GET: 84817.64 requests per second, p50=0.311 msec" (with \r progress).
  const m = /GET: ([\d.]+) requests per second/.exec(r.stdout);
  if (m === null) throw new Error(`redis-benchmark printed no GET figure: ${r.stdout}${r.stderr}`);
  return Math.round(Number(m[1]));
}

async function measureStore(
  ctx: BenchContext,
  label: string,
  store: Store,
  out: Metrics,
): Promise<void> {
  const clock = new HybridClock({ node: `bench-${label}` });
  const n = ctx.quick ? 4000 : 20_000;
  const nLarge = ctx.quick ? 300 : 2000;
  const ms = ctx.quick ? 2000 : 5000;
  ctx.log(`${label}: loading keys`);
  await Promise.all(
    Array.from({ length: KEYS }, (_, i) => store.put(`s/${i}`, LwwLattice.of(SMALL, clock.now()))),
  );
  for (let i = 0; i < LARGE_KEYS; i++) await store.put(`l/${i}`, LwwLattice.of(LARGE, clock.now()));

  ctx.log(`${label}: sequential latency`);
  const get = await sequentialLatency((i) => store.get(`s/${i % KEYS}`), n);
  const put = await sequentialLatency(
    (i) => store.put(`s/${i % KEYS}`, LwwLattice.of(SMALL, clock.now())),
    n,
  );
  const getL = await sequentialLatency((i) => store.get(`l/${i % LARGE_KEYS}`), nLarge, 50);
  const putL = await sequentialLatency(
    (i) => store.put(`l/${i % LARGE_KEYS}`, LwwLattice.of(LARGE, clock.now())),
    nLarge,
    50,
  );
  out[`${label}_get_p50_us`] = round(get.p50);
  out[`${label}_get_p99_us`] = round(get.p99);
  out[`${label}_put_p50_us`] = round(put.p50);
  out[`${label}_put_p99_us`] = round(put.p99);
  out[`${label}_get_100k_p50_us`] = round(getL.p50);
  out[`${label}_put_100k_p50_us`] = round(putL.p50);

  ctx.log(`${label}: throughput, 256 in flight`);
  out[`${label}_throughput_ops`] = await throughput((i) => store.get(`s/${i % KEYS}`), 256, ms);
  out[`${label}_merge_ops`] = await throughput(
    (i) => store.put(`s/${i % KEYS}`, LwwLattice.of(SMALL, clock.now())),
    256,
    ms,
  );
  out[`${label}_throughput_100k_ops`] = await throughput(
    (i) => store.get(`l/${i % LARGE_KEYS}`),
    256,
    ms / 2,
  );
}

/** Time from a write being issued to a second client's subscriber hearing of it. */
async function invalidationLatency(writer: Store, reader: Store, n: number): Promise<number> {
  const clock = new HybridClock({ node: "inval" });
  let waiting: (() => void) | undefined;
  const sub = await reader.subscribe("inv/", (e) => {
    if (e.kind === "put") waiting?.();
  });
  const lat = await sequentialLatency(
    async (i) => {
      const heard = new Promise<void>((r) => (waiting = r));
      await Promise.all([writer.put(`inv/${i % 50}`, LwwLattice.of(i, clock.now())), heard]);
    },
    n,
    100,
  );
  await sub.close();
  return lat.p50;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

const storage: Benchmark = {
  name: "storage",
  description:
    "Store get/merge latency and throughput (memory, Redis, Redis Cluster) vs redis-benchmark",
  async run(ctx) {
    const out: Metrics = {};
    const nativeN = 200_000;

    const memory = await MemoryStore.open();
    await measureStore(ctx, "memory", memory, out);
    await memory.close();

    ctx.log("starting Redis and a 3-master Redis Cluster");
    const [server, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start()]);
    try {
      const redis = await RedisStore.connect({ url: server.url });
      await measureStore(ctx, "redis", redis, out);
      const reader = await RedisStore.connect({ url: server.url });
      out["redis_invalidation_p50_us"] = round(
        await invalidationLatency(redis, reader, ctx.quick ? 300 : 2000),
      );
      await reader.close();
      await redis.close();
      ctx.log("redis-benchmark -t get -n 200000 (50 clients, no -P)");
      out["redis_benchmark_ops"] = nativeGetOps(server.port, false, nativeN);
      out["redis_vs_native"] =
        Math.round(((out["redis_throughput_ops"] ?? 0) / (out["redis_benchmark_ops"] ?? 1)) * 100) /
        100;
      ctx.log("redis-benchmark -t get -n 1000000 -P 16 (50 clients, 16 commands per round trip)");
      out["redis_benchmark_p16_ops"] = nativeGetOps(server.port, false, nativeN * 5, 16);
      out["redis_vs_pipelined_native"] =
        Math.round(
          ((out["redis_throughput_ops"] ?? 0) / (out["redis_benchmark_p16_ops"] ?? 1)) * 100,
        ) / 100;
      // The same gets by a bare ioredis client (autopipelined, 256 in flight, no Store around
      // it): how much of the gap to redis-benchmark is Node's client and how much is ours.
      ctx.log("bare ioredis: getBuffer, autopipelined, 256 in flight");
      const bare = new Redis(server.url, { enableAutoPipelining: true });
      try {
        const ms = ctx.quick ? 2000 : 5000;
        out["ioredis_throughput_ops"] = await throughput(
          (i) => bare.getBuffer(`stratus:s/${i % KEYS}`),
          256,
          ms,
        );
      } finally {
        bare.disconnect();
      }
      out["redis_vs_ioredis"] =
        Math.round(
          ((out["redis_throughput_ops"] ?? 0) / (out["ioredis_throughput_ops"] ?? 1)) * 100,
        ) / 100;
      out["ioredis_vs_pipelined_native"] =
        Math.round(
          ((out["ioredis_throughput_ops"] ?? 0) / (out["redis_benchmark_p16_ops"] ?? 1)) * 100,
        ) / 100;

      const rc = await RedisStore.connect({ cluster: cluster.seeds });
      await measureStore(ctx, "cluster", rc, out);
      await rc.close();
      ctx.log("redis-benchmark --cluster -t get -n 200000");
      out["cluster_benchmark_ops"] = nativeGetOps(cluster.nodes[0]?.port ?? 0, true, nativeN);
      out["cluster_vs_native"] =
        Math.round(
          ((out["cluster_throughput_ops"] ?? 0) / (out["cluster_benchmark_ops"] ?? 1)) * 100,
        ) / 100;
    } finally {
      await Promise.all([server.stop(), cluster.stop()]);
    }
    return out;
  },
};

export default storage;

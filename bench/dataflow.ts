/**
 * dataflow: each optimizer pass measured against the same flow deployed unoptimized, in one run,
 * interleaved in blocks so both see the same (shared, noisy) machine.
 *
 * - fusion_speedup: a 3-stage chain over 500 KB rows, on two node processes whose scheduler
 *   spreads a DAG's functions over them; unfused p50 / fused p50.
 * - compete_p99_reduction: a map with a gamma-distributed delay (shape 0.5, mean 60 ms), one
 *   copy vs 2 competing replicas (losers cancelled: their sleep ends on `ctx.signal`); p99 one /
 *   p99 two.
 * - locality_speedup: the recommender (examples/dataflow/recommender.ts) on four nodes whose
 *   caches hold 3 of the 8 category matrices each; p50 without / with the locality pass, each
 *   on a cluster of its own. Without it, a request's lookup runs where the flow was placed and
 *   usually fetches the matrix from storage.
 * - batching_throughput_gain: a batch map whose per-call fixed cost dominates (5 ms of CPU per
 *   call, 0.1 ms per row) under 32 concurrent single-row runs; rows/s batched / unbatched.
 * - recommender_p50_ms, recommender_p99_ms, recommender_throughput_rps: the optimized recommender.
 * - image_cascade_*, video_*, translation_* (`_p50_ms`, `_p99_ms`, `_throughput_rps`): the ML
 *   pipelines of examples/pipelines, measured by bench/ml.ts's `pipelineCases`.
 * - bytes_8mib_vs_http, bytes_1mib_vs_http: a 2-function DAG passing the tensor from the client
 *   through both functions and back, over a node:http echo of the same bytes, measured by
 *   bench/bytes.ts's `measureBytes`.
 */
import { randomUUID } from "node:crypto";
import { Flow, Stratus } from "../src/index.js";
import { StratusProcess } from "../src/local/index.js";
import type { ProcessOptions } from "../src/local/index.js";
import { RedisServer } from "../testing/redis.js";
import { recommenderFlow, seedRecommender } from "../examples/dataflow/recommender.js";
import type { Benchmark, BenchContext, Metrics } from "./lib/harness.js";
import { alternatingThroughput, interleaved, throughput } from "./lib/measure.js";
import { measureBytes } from "./bytes.js";
import { pipelineCases, PIPELINE_EXECUTORS } from "./ml.js";
import { prepare } from "../examples/pipelines/models.js";

const MB = 1024 * 1024;

interface Cluster {
  cloud: Stratus;
  close(): Promise<void>;
}

/** A scheduler (no executors) and `nodes` node processes over one store. */
async function cluster(
  store: string,
  nodes: number,
  node: Partial<ProcessOptions>,
  sched: Partial<ProcessOptions> = {},
): Promise<Cluster> {
  const token = randomUUID();
  const common = { token, store, expiryMs: 15_000 };
  const procs = [await StratusProcess.start({ ...common, ...sched, executors: 0 })];
  for (let i = 0; i < nodes; i++) {
    procs.push(await StratusProcess.start({ ...common, scheduler: false, ...node }));
  }
  const cloud = await Stratus.connect((procs[0] as StratusProcess).url, { token });
  while ((await cloud.status()).nodes.length < nodes) await new Promise((r) => setTimeout(r, 20));
  return {
    cloud,
    async close() {
      await cloud.close();
      for (const p of procs.reverse()) await p.close();
    },
  };
}

/** A 3-stage chain of cheap element-wise maps over a tensor column, each a loop over its floats. */
function chainFlow(name: string) {
  const flow = Flow.create(name, { v: "tensor" });
  // Each stage works in place: the row it gets is its own (decoded into its worker's memory, or
  // handed on by the fused stage before it), so no stage allocates another 500 KB.
  const a = flow.input.map(
    "scale",
    (ctx, r) => {
      const v = r.v as Float32Array;
      for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * 2;
      return { v };
    },
    { schema: { v: "tensor" } },
  );
  const b = a.map(
    "shift",
    (ctx, r) => {
      const v = r.v as Float32Array;
      for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + 1;
      return { v };
    },
    { schema: { v: "tensor" } },
  );
  const c = b.map(
    "clip",
    (ctx, r) => {
      const v = r.v as Float32Array;
      for (let i = 0; i < v.length; i++) v[i] = Math.min(v[i] as number, 100);
      return { v };
    },
    { schema: { v: "tensor" } },
  );
  return flow.output(c);
}

export async function fusion(ctx: BenchContext, redis: string): Promise<Metrics> {
  // Spread placement: the functions of one run land on different nodes, as they do on a busy
  // cluster; fused, the chain is one function on one node.
  const c = await cluster(
    `${redis}?prefix=dff-${randomUUID().slice(0, 8)}:`,
    2,
    { executors: 2 },
    {
      placement: "spread",
    },
  );
  try {
    const fused = await chainFlow("fuse3").deploy(c.cloud, { optimize: true });
    const unfused = await chainFlow("fuse3u").deploy(c.cloud, { optimize: false });
    const row = { v: new Float32Array((500 * 1024) / 4).fill(1) };
    const n = ctx.quick ? 60 : 300;
    ctx.log(`fusion: ${n} runs each over 500 KB rows`);
    const r = await interleaved(
      { fused: () => fused.run([row]), unfused: () => unfused.run([row]) },
      n,
      20,
      10,
    );
    return {
      fusion_fused_p50_ms: r.fused?.p50 ?? NaN,
      fusion_unfused_p50_ms: r.unfused?.p50 ?? NaN,
      fusion_speedup: (r.unfused?.p50 ?? NaN) / (r.fused?.p50 ?? NaN),
    };
  } finally {
    await c.close();
  }
}

/** A map sleeping a gamma-distributed time (shape 0.5, mean 60 ms), with 2 replicas. */
function competeFlow(name: string) {
  const flow = Flow.create(name, { x: "number" });
  const slow = flow.input.map(
    "straggle",
    async (ctx, r) => {
      // Marsaglia-Tsang for shape a + 1, then the shape-a correction U^(1/a).
      const a = 0.5;
      const mean = 60;
      const normal = (): number => {
        const u = 1 - Math.random();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
      };
      const d = a + 1 - 1 / 3;
      const c = 1 / Math.sqrt(9 * d);
      let g = 0;
      for (;;) {
        const z = normal();
        const v = (1 + c * z) ** 3;
        if (v <= 0) continue;
        if (Math.log(1 - Math.random()) < 0.5 * z * z + d - d * v + d * Math.log(v)) {
          g = d * v;
          break;
        }
      }
      const ms = g * (1 - Math.random()) ** (1 / a) * (mean / a);
      // A losing replica stops when cancelled, freeing its executor for the next run.
      await new Promise<void>((res) => {
        const t = setTimeout(res, ms);
        ctx.signal.addEventListener("abort", () => (clearTimeout(t), res()), { once: true });
      });
      return { x: r.x };
    },
    { schema: { x: "number" }, highVariance: true, replicas: 2 },
  );
  return flow.output(slow);
}

async function compete(ctx: BenchContext): Promise<Metrics> {
  const cloud = await Stratus.local({ executors: 8 });
  try {
    const one = await competeFlow("straggle1").deploy(cloud, { optimize: { compete: false } });
    const two = await competeFlow("straggle2").deploy(cloud, { optimize: true });
    const n = ctx.quick ? 200 : 600;
    ctx.log(`compete: ${n} runs each`);
    const r = await interleaved(
      { one: () => one.run([{ x: 1 }]), two: () => two.run([{ x: 1 }]) },
      n,
      50,
      10,
    );
    return {
      compete_one_p99_ms: r.one?.p99 ?? NaN,
      compete_two_p99_ms: r.two?.p99 ?? NaN,
      compete_p99_reduction: (r.one?.p99 ?? NaN) / (r.two?.p99 ?? NaN),
    };
  } finally {
    await cloud.close();
  }
}

export async function locality(ctx: BenchContext, redis: string): Promise<Metrics> {
  const categories = 8;
  const users = 32;
  const nodes = 4;
  // Each node's cache holds 3 matrices of 5 MB: the cluster's caches hold every category with
  // room to spare, one node's a third of them. Near and far each get a cluster of their own, so
  // that neither's cache churn counts against the other; they are measured in alternating blocks.
  const shape = { executors: 2, cacheBytes: 16 * MB, heartbeatMs: 200 };
  const prefix = () => `${redis}?prefix=dfl-${randomUUID().slice(0, 8)}:`;
  const nearC = await cluster(prefix(), nodes, shape);
  const farC = await cluster(prefix(), nodes, shape);
  try {
    ctx.log(`locality: seeding ${categories} category matrices of 5 MB, twice`);
    await seedRecommender(nearC.cloud, users, categories);
    await seedRecommender(farC.cloud, users, categories);
    const near = await recommenderFlow("rec-near").deploy(nearC.cloud, { optimize: true });
    const far = await recommenderFlow("rec-far").deploy(farC.cloud, {
      optimize: { locality: false },
    });
    // Category c is asked by user u = c * k + j: one category per request.
    const req = (i: number) => [{ user: i % users, cat: i % categories }];
    // Warm the near cluster one category at a time, each after a heartbeat has told placement
    // what the nodes cache, as a steady stream of requests would.
    for (let c = 0; c < categories; c++) {
      await near.run(req(c));
      await new Promise((r) => setTimeout(r, 2 * shape.heartbeatMs));
    }
    const n = ctx.quick ? 48 : 200;
    ctx.log(`locality: ${n} runs each`);
    const r = await interleaved(
      { near: (i) => near.run(req(i)), far: (i) => far.run(req(i)) },
      n,
      8,
      16,
    );
    // A run holds two executors at once (the route waits on its continuation), so, as for the
    // ML pipelines, 2 runs in flight: more make the pool lend short-lived workers, each of
    // which boots and loads its matrices afresh.
    ctx.log("recommender: throughput with 2 in flight");
    const rps = await throughput((i) => near.run(req(i)), 2, ctx.quick ? 3_000 : 10_000, 500);
    return {
      locality_near_p50_ms: r.near?.p50 ?? NaN,
      locality_far_p50_ms: r.far?.p50 ?? NaN,
      locality_speedup: (r.far?.p50 ?? NaN) / (r.near?.p50 ?? NaN),
      recommender_p50_ms: r.near?.p50 ?? NaN,
      recommender_p99_ms: r.near?.p99 ?? NaN,
      recommender_throughput_rps: rps,
    };
  } finally {
    await nearC.close();
    await farC.close();
  }
}

/** A batch map with a fixed cost per call (5 ms of CPU) and a small one per row (0.1 ms). */
function batchFlow(name: string) {
  const flow = Flow.create(name, { x: "number" });
  const m = flow.input.map(
    "score",
    (ctx, rows) => {
      const spin = (ms: number): void => {
        const end = performance.now() + ms;
        while (performance.now() < end);
      };
      spin(5);
      return rows.map((r) => {
        spin(0.1);
        return { x: r.x, y: (r.x ?? 0) * 2 };
      });
    },
    { schema: { x: "number", y: "number" }, batch: true },
  );
  return flow.output(m);
}

async function batching(ctx: BenchContext): Promise<Metrics> {
  const cloud = await Stratus.local({ executors: 2 });
  try {
    const batched = await batchFlow("batch-on").deploy(cloud, {
      batch: { maxRows: 32, latencyTargetMs: 40 },
    });
    const single = await batchFlow("batch-off").deploy(cloud, { optimize: { batching: false } });
    ctx.log("batching: 32 in flight, alternating blocks");
    const r = await alternatingThroughput(
      { batched: (i) => batched.run([{ x: i }]), single: (i) => single.run([{ x: i }]) },
      32,
      ctx.quick ? 2_000 : 5_000,
      ctx.quick ? 2 : 4,
    );
    return {
      batching_batched_rps: r.batched ?? NaN,
      batching_single_rps: r.single ?? NaN,
      batching_throughput_gain: (r.batched ?? NaN) / (r.single ?? NaN),
    };
  } finally {
    await cloud.close();
  }
}

/** The ML pipelines (image cascade, video, translation), as the ml benchmark runs them. */
export async function pipelines(ctx: BenchContext): Promise<Metrics> {
  const cloud = await Stratus.local({ executors: PIPELINE_EXECUTORS });
  try {
    ctx.log("pipelines: deploying the ML module and saving models");
    await prepare(cloud);
    // The ml benchmark measures competitive execution's effect on translation; here only the
    // pipelines as deployed by default, fewer runs when quick to keep the whole run short.
    return await pipelineCases(cloud, ctx, {
      compareCompete: false,
      ...(ctx.quick && { runs: 30, warmup: 5, throughputMs: 1500 }),
    });
  } finally {
    await cloud.close();
  }
}

const bench: Benchmark = {
  name: "dataflow",
  description: "dataflow optimizer passes, each against the unoptimized flow in the same run",
  async run(ctx) {
    let own: RedisServer | undefined;
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    try {
      const metrics: Metrics = {};
      // Each case's figures are logged as it ends: a busy machine makes the whole run long.
      for (const run of [
        () => fusion(ctx, redis),
        () => compete(ctx),
        () => locality(ctx, redis),
        () => batching(ctx),
        () => measureBytes(ctx),
        () => pipelines(ctx),
      ]) {
        const m = await run();
        ctx.log(JSON.stringify(m));
        Object.assign(metrics, m);
      }
      return metrics;
    } finally {
      await own?.stop();
    }
  },
};

export default bench;

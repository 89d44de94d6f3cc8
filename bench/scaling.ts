/**
 * scaling: throughput of a function that sleeps 10 ms with 1, 2, 4, 8 and 16 executors. The
 * function has `concurrency: 1` (an executor runs one of its invocations at a time), so throughput
 * should grow with executors until the machine, not the sleep, is the limit. Sleeps overlap for
 * free, so a CPU-bound function (a fixed amount of hashing) is measured too, at 1 and 2
 * executors (this machine has 2 cores), the two alternating in blocks so that both see the same
 * machine.
 */
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { alternatingThroughput, throughput } from "./lib/measure.js";

/** FNV-1a over `rounds` bytes: a few ms of pure CPU in the worker, no I/O, no allocation. */
function hash(_ctx: unknown, rounds: number): number {
  let h = 2166136261;
  for (let i = 0; i < rounds; i++) {
    h ^= i & 0xff;
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
const ROUNDS = 3_000_000;

async function cpuBound(ms: number, blocks: number): Promise<Metrics> {
  const clouds = await Promise.all([1, 2].map((executors) => Stratus.local({ executors })));
  try {
    for (const c of clouds) {
      await c.register("hash", hash);
      for (let i = 0; i < 20; i++) await c.call("hash", [ROUNDS]);
    }
    const [one, two] = clouds as [Stratus, Stratus];
    const rps = await alternatingThroughput(
      {
        one: () => one.call("hash", [ROUNDS]),
        two: () => two.call("hash", [ROUNDS]),
      },
      8,
      ms,
      blocks,
    );
    const m: Metrics = { cpu_rps_1: rps.one ?? NaN, cpu_rps_2: rps.two ?? NaN };
    m.cpu_speedup_2_vs_1 = (m.cpu_rps_2 ?? 0) / (m.cpu_rps_1 ?? 1);
    return m;
  } finally {
    await Promise.all(clouds.map((c) => c.close()));
  }
}

const scaling: Benchmark = {
  name: "scaling",
  description: "10 ms sleep function with 1..16 executors; CPU-bound function with 1 and 2",
  async run(ctx): Promise<Metrics> {
    const m: Metrics = {};
    const ms = ctx.quick ? 2500 : 8000;
    for (const executors of [1, 2, 4, 8, 16]) {
      const cloud = await Stratus.local({ executors });
      try {
        // One invocation per executor (Cloudburst's unit), which this benchmark scales.
        await cloud.register(
          "nap",
          async (_ctx, x: number) => {
            await new Promise((r) => setTimeout(r, 10));
            return x;
          },
          { concurrency: 1 },
        );
        await cloud.call("nap", [0]);
        ctx.log(`${executors} executors`);
        // Enough calls in flight to keep every executor busy, a few queued behind each.
        m[`rps_${executors}`] = await throughput(
          (i) => cloud.call("nap", [i]),
          executors * 4,
          ms,
          500,
        );
      } finally {
        await cloud.close();
      }
    }
    m.ideal_rps_16 = 16 * 100;
    m.speedup_16_vs_1 = (m.rps_16 ?? 0) / (m.rps_1 ?? 1);
    ctx.log("CPU-bound hashing, 1 and 2 executors alternating");
    Object.assign(m, await cpuBound(ctx.quick ? 1500 : 3000, ctx.quick ? 2 : 4));
    return m;
  },
};
export default scaling;

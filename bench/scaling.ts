/**
 * scaling: throughput of a function that sleeps 10 ms with 1, 2, 4, 8 and 16 executors. An
 * executor runs one invocation at a time, so throughput should grow with executors until the
 * machine, not the sleep, is the limit.
 */
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { throughput } from "./lib/measure.js";

const scaling: Benchmark = {
  name: "scaling",
  description: "10 ms sleep function: throughput with 1..16 executors",
  async run(ctx): Promise<Metrics> {
    const m: Metrics = {};
    const ms = ctx.quick ? 2500 : 8000;
    for (const executors of [1, 2, 4, 8, 16]) {
      const cloud = await Stratus.local({ executors });
      try {
        await cloud.register("nap", async (_ctx, x: number) => {
          await new Promise((r) => setTimeout(r, 10));
          return x;
        });
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
    return m;
  },
};
export default scaling;

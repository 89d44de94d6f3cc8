/**
 * autoscaling: a function that sleeps 50 ms, one client and then, as a step, 64 concurrent
 * clients, on a node that starts with 1 executor and the autoscaler on (decisions every 250 ms,
 * statistics published every 250 ms). Reports how long after the step throughput first reached
 * 90% of its peak (1 s sliding windows), the peak, and how long after the load stopped the node
 * was back to 1 executor (idle grace period 3 s).
 */
import { StratusProcess } from "../src/cluster/index.js";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";

const CLIENTS = 64;
const BIN_MS = 100;
const GRACE_MS = 3000;

const autoscaling: Benchmark = {
  name: "autoscaling",
  description: "50 ms function, load step 1 -> 64 clients from 1 executor, autoscaler on",
  async run(ctx): Promise<Metrics> {
    const proc = await StratusProcess.start({
      token: "bench",
      executors: 1,
      stats: { intervalMs: 250 },
      monitor: { intervalMs: 250, minExecutors: 1, maxExecutors: CLIENTS, idleGraceMs: GRACE_MS },
    });
    const cloud = await Stratus.connect(proc.url, { token: "bench" });
    try {
      await cloud.register("nap", async () => {
        await new Promise((r) => setTimeout(r, 50));
        return 1;
      });
      let clients = 1;
      let stop = false;
      const done: number[] = [];
      const loop = async (i: number): Promise<void> => {
        while (!stop && i < clients) {
          await cloud.call("nap", []);
          done.push(performance.now());
        }
      };
      ctx.log("1 client");
      const loops = [loop(0)];
      await new Promise((r) => setTimeout(r, ctx.quick ? 1500 : 3000));
      ctx.log(`step to ${CLIENTS} clients`);
      const step = performance.now();
      clients = CLIENTS;
      for (let i = 1; i < CLIENTS; i++) loops.push(loop(i));
      await new Promise((r) => setTimeout(r, ctx.quick ? 12_000 : 25_000));
      stop = true;
      await Promise.all(loops);
      const stopped = performance.now();
      const sizeAtPeak = proc.node!.stats().pool.size;
      // Throughput in 1 s windows sliding by one bin, from the step on.
      const bins = new Array<number>(Math.ceil((stopped - step) / BIN_MS)).fill(0);
      for (const t of done) if (t >= step) bins[Math.floor((t - step) / BIN_MS)]! += 1;
      const per = 1000 / BIN_MS;
      const rates: { end: number; rps: number }[] = [];
      for (let i = per; i <= bins.length; i++) {
        let n = 0;
        for (let j = i - per; j < i; j++) n += bins[j] ?? 0;
        rates.push({ end: (i * BIN_MS) / 1000, rps: n });
      }
      const peak = Math.max(...rates.map((r) => r.rps));
      const first = rates.find((r) => r.rps >= 0.9 * peak);
      ctx.log(`peak ${peak}/s with ${sizeAtPeak} executors; waiting for scale-down`);
      let down = NaN;
      const limit = performance.now() + GRACE_MS + 30_000;
      while (performance.now() < limit) {
        if (proc.node!.stats().pool.size === 1) {
          down = (performance.now() - stopped) / 1000;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return {
        seconds_to_90pct_peak: first?.end ?? NaN,
        peak_throughput_rps: peak,
        ideal_rps: (CLIENTS * 1000) / 50,
        executors_at_peak: sizeAtPeak,
        seconds_to_scale_down: down,
        idle_grace_s: GRACE_MS / 1000,
        rps_one_client:
          rates.length > 0 ? done.filter((t) => t < step).length / (ctx.quick ? 1.5 : 3) : NaN,
      };
    } finally {
      await cloud.close();
      await proc.close();
    }
  },
};
export default autoscaling;

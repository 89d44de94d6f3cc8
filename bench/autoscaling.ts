/**
 * autoscaling: a function that sleeps 50 ms, one client and then, as a step, 64 concurrent
 * clients, on a node that starts with 1 executor and the autoscaler on (decisions every 250 ms,
 * statistics published every 250 ms). Time zero is the step: the instant the 63 extra clients
 * start calling. Throughput is counted in 1 s windows sliding by 100 ms, each labelled by its end;
 * the peak is the best window after the step. Reports how long after the step a window first
 * reached 90% of that peak, and (judging the peak against what this machine can do) 90% of a
 * fixed pool of 64 executors measured in the same run under the same 64 clients; and how long
 * after the load stopped the node was back to 1 executor (idle grace period 3 s). Also how long
 * after the step all the workers it grew to had booted, which separates the boots' pace from the
 * rest, and how many workers it had at the peak: the function has the default concurrency (each
 * worker runs several sleeps at once), so the autoscaler, which counts a call as 1 / its
 * concurrency of an executor, needs far fewer than 64.
 */
import { StratusProcess } from "../src/cluster/index.js";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";

const CLIENTS = 64;
const BIN_MS = 100;
const GRACE_MS = 3000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A node (with a scheduler) and a client that has registered the 50 ms function. */
async function start(
  opts: Omit<Parameters<typeof StratusProcess.start>[0], "token">,
): Promise<{ proc: StratusProcess; cloud: Stratus; close: () => Promise<void> }> {
  const proc = await StratusProcess.start({ token: "bench", ...opts });
  const cloud = await Stratus.connect(proc.url, { token: "bench" });
  await cloud.register("nap", async () => {
    await new Promise((r) => setTimeout(r, 50));
    return 1;
  });
  return {
    proc,
    cloud,
    close: async () => {
      await cloud.close();
      await proc.close();
    },
  };
}

/** Closed-loop clients: `clients()` of them call until `stop()`; completion times in `done`. */
function load(cloud: Stratus): {
  done: number[];
  grow: (n: number) => void;
  stop: () => Promise<void>;
} {
  const done: number[] = [];
  const loops: Promise<void>[] = [];
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      await cloud.call("nap", []);
      done.push(performance.now());
    }
  };
  return {
    done,
    grow: (n) => {
      while (loops.length < n) loops.push(loop());
    },
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Calls/s in 1 s windows sliding by one bin, from `from` to `to`; `end` in s after `from`. */
function windows(done: number[], from: number, to: number): { end: number; rps: number }[] {
  const bins = new Array<number>(Math.ceil((to - from) / BIN_MS)).fill(0);
  for (const t of done) if (t >= from && t < to) bins[Math.floor((t - from) / BIN_MS)]! += 1;
  const per = 1000 / BIN_MS;
  const rates: { end: number; rps: number }[] = [];
  for (let i = per; i <= bins.length; i++) {
    let n = 0;
    for (let j = i - per; j < i; j++) n += bins[j] ?? 0;
    rates.push({ end: (i * BIN_MS) / 1000, rps: n });
  }
  return rates;
}

const autoscaling: Benchmark = {
  name: "autoscaling",
  description: "50 ms function, load step 1 -> 64 clients from 1 executor, autoscaler on",
  async run(ctx): Promise<Metrics> {
    // The machine's own ceiling first: 64 executors from the start, 64 clients, steady state.
    ctx.log(`fixed pool of ${CLIENTS} executors`);
    let fixedRps: number;
    {
      const fixed = await start({ executors: CLIENTS });
      try {
        const l = load(fixed.cloud);
        l.grow(CLIENTS);
        await sleep(1000); // warm-up: not counted
        const from = performance.now();
        await sleep(ctx.quick ? 3000 : 6000);
        const to = performance.now();
        await l.stop();
        fixedRps = (l.done.filter((t) => t >= from && t < to).length * 1000) / (to - from);
      } finally {
        await fixed.close();
      }
    }
    ctx.log(`fixed: ${fixedRps.toFixed(0)}/s; now from 1 executor, autoscaler on`);
    const { proc, cloud, close } = await start({
      executors: 1,
      stats: { intervalMs: 250 },
      monitor: { intervalMs: 250, minExecutors: 1, maxExecutors: CLIENTS, idleGraceMs: GRACE_MS },
    });
    try {
      const l = load(cloud);
      l.grow(1);
      const oneFrom = performance.now();
      await sleep(ctx.quick ? 1500 : 3000);
      const step = performance.now();
      const oneClient = (l.done.filter((t) => t >= oneFrom).length * 1000) / (step - oneFrom);
      ctx.log(`step to ${CLIENTS} clients`);
      l.grow(CLIENTS);
      // Booted workers every 100 ms: tells the boots' pace apart from how calls reach them.
      const ready: number[] = [];
      const sampler = setInterval(() => {
        const p = proc.node!.stats().pool;
        ready.push(p.workers - p.booting);
      }, BIN_MS);
      await sleep(ctx.quick ? 12_000 : 25_000);
      clearInterval(sampler);
      await l.stop();
      const stopped = performance.now();
      const { size: sizeAtPeak, workers: workersAtPeak } = proc.node!.stats().pool;
      const rates = windows(l.done, step, stopped);
      const peak = Math.max(...rates.map((r) => r.rps));
      const first = (level: number): number => rates.find((r) => r.rps >= level)?.end ?? NaN;
      ctx.log(`peak ${peak}/s with ${sizeAtPeak} executors; waiting for scale-down`);
      const stepEpoch = Date.now() - (performance.now() - step);
      const grew = (proc.monitor?.decisions ?? [])
        .filter((d) => d.kind === "executors")
        .map((d) => `${((d.at - stepEpoch) / 1000).toFixed(1)}s:${d.from}->${d.to}`);
      ctx.log(`resizes (s after the step): ${grew.join(" ")}`);
      const each = rates.filter((r) => Math.round(r.end * 10) % 10 === 0);
      ctx.log(`calls/s by second: ${each.map((r) => r.rps).join(" ")}`);
      const readyEach = ready.filter((_, i) => (i + 1) % (1000 / BIN_MS) === 0);
      ctx.log(`booted executors by second: ${readyEach.join(" ")}`);
      const allIn = ready.findIndex((n) => n >= sizeAtPeak);
      let down = NaN;
      const limit = performance.now() + GRACE_MS + 30_000;
      while (performance.now() < limit) {
        if (proc.node!.stats().pool.size === 1) {
          down = (performance.now() - stopped) / 1000;
          break;
        }
        await sleep(50);
      }
      return {
        seconds_to_90pct_peak: first(0.9 * peak),
        seconds_to_90pct_fixed_64: first(0.9 * fixedRps),
        peak_throughput_rps: peak,
        fixed_64_rps: Math.round(fixedRps),
        peak_vs_fixed_64: peak / fixedRps,
        ideal_rps: (CLIENTS * 1000) / 50,
        workers_at_peak: workersAtPeak,
        executors_at_peak: sizeAtPeak,
        seconds_to_all_booted: allIn < 0 ? NaN : ((allIn + 1) * BIN_MS) / 1000,
        seconds_to_scale_down: down,
        idle_grace_s: GRACE_MS / 1000,
        rps_one_client: oneClient,
      };
    } finally {
      await close();
    }
  },
};
export default autoscaling;

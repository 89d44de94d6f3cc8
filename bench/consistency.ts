/**
 * consistency: the Retwis-style workload (testing/consistency) at lww, repeatable-read, causal
 * and transactional-causal on one cluster in one run: a scheduler and three node processes over
 * Redis, the timeline's two functions on two nodes, the second node's cache applying
 * invalidations 50 ms late (so lww's anomalies happen). Levels alternate in rounds so machine
 * noise falls on all of them alike. Latency is the timeline DAG's, at the client; anomalies are
 * runs showing one the level promises to prevent (for lww: any).
 */
import { randomUUID } from "node:crypto";
import { runRetwis } from "../testing/consistency/index.js";
import type { RetwisResult } from "../testing/consistency/index.js";
import type { Consistency } from "../src/protocol/index.js";
import { startRetwisCluster } from "../testing/consistency/cluster.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { percentiles } from "./lib/measure.js";

const LEVELS: [string, Consistency][] = [
  ["lww", "lww"],
  ["rr", "repeatable-read"],
  ["causal", "causal"],
  ["tcc", "transactional-causal"],
];

const consistency: Benchmark = {
  name: "consistency",
  description: "Retwis timelines: repeatable-read / causal / transactional-causal vs lww",
  async run(ctx): Promise<Metrics> {
    const rounds = ctx.quick ? 2 : 5;
    const perRound = ctx.quick ? 100 : 600;
    const c = await startRetwisCluster({ lagMs: 50 });
    try {
      const ns = new Map(
        LEVELS.map(([short]) => [short, `b-${short}-${randomUUID().slice(0, 6)}`]),
      );
      const lat = new Map<string, number[]>(LEVELS.map(([s]) => [s, []]));
      const bad = new Map<string, number>(LEVELS.map(([s]) => [s, 0]));
      const runs = new Map<string, number>(LEVELS.map(([s]) => [s, 0]));
      for (let r = 0; r <= rounds; r++) {
        for (const [short, level] of LEVELS) {
          const res: RetwisResult = await runRetwis(c.cloud, {
            ns: ns.get(short) as string,
            consistency: level,
            runs: r === 0 ? 50 : perRound,
          });
          if (r === 0) continue; // warm-up: code compiled, caches filled
          lat.get(short)?.push(...res.readMs);
          runs.set(short, (runs.get(short) ?? 0) + res.tally.runs);
          const n = level === "lww" ? res.tally.anomalous : res.tally.violations(level);
          bad.set(short, (bad.get(short) ?? 0) + n);
        }
      }
      const m: Metrics = {};
      for (const [short] of LEVELS) {
        const { p50, p99 } = percentiles(lat.get(short) ?? []);
        m[`${short}_p50_ms`] = p50;
        m[`${short}_p99_ms`] = p99;
      }
      const base = m["lww_p50_ms"] as number;
      for (const short of ["rr", "causal", "tcc"]) {
        m[`${short}_overhead`] = (m[`${short}_p50_ms`] as number) / base;
      }
      for (const [short] of LEVELS) m[`${short}_anomalies`] = bad.get(short) ?? 0;
      m["runs_per_level"] = runs.get("lww") ?? 0;
      return m;
    } finally {
      await c.stop();
    }
  },
};

export default consistency;

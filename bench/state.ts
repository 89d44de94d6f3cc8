/**
 * state: one hot counter under 64 concurrent callers, each increment one request over the
 * network. Stratus: a function doing `ctx.merge(key, ctx.lattices.counter(1))` on a cluster over
 * Redis with `appendfsync everysec`, the client's own `cloud.merge`, the same function on the
 * memory store, and read-modify-write puts for comparison (which lose updates). Peers, in the same
 * run and in alternating blocks: a Restate 1.7 virtual-object counter and a Durable Object counter
 * run by miniflare 4. Everything runs in a private network namespace with loopback only
 * (bench/state/netns.ts). `--peers-only` measures Restate and the Durable Object alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { ensureMiniflare, MINIFLARE_VERSION } from "./peers/miniflare.js";
import { runInNetns } from "./peers/netns-run.js";
import { ensureInstalled, scratch as restateScratch } from "./peers.js";

const state: Benchmark = {
  name: "state",
  description:
    "one hot counter, 64 callers: Stratus merge(counter) on Redis (everysec) vs read-modify-write, " +
    `vs a Restate virtual object and a Durable Object (miniflare ${MINIFLARE_VERSION}), alternating`,
  async run(ctx): Promise<Metrics> {
    const peersOnly = process.argv.includes("--peers-only");
    const restateBin = await ensureInstalled(ctx);
    const mfScratch = await ensureMiniflare((msg) => ctx.log(msg));
    const tmp = mkdtempSync(join(tmpdir(), "stratus-state-"));
    let m: Metrics;
    try {
      m = await runInNetns<Metrics>({
        script: join(import.meta.dirname, "state", "netns.ts"),
        args: [restateScratch, restateBin, mfScratch, tmp]
          .concat(ctx.quick ? ["--quick"] : [])
          .concat(peersOnly ? ["--peers-only"] : []),
        prefix: "STATE_RESULT",
        timeoutMs: ctx.quick ? 120_000 : 300_000,
        log: (msg) => ctx.log(msg),
      });
    } finally {
      // Retries, as a just-killed restate-server's files can still be settling.
      rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
    // Ratios of paired blocks come from the namespace; pooled ones only when it sent none.
    if (m.counter_hot_ops !== undefined && m.counter_vs_restate === undefined) {
      m.counter_vs_restate = m.counter_hot_ops / (m.restate_counter_ops ?? NaN);
      m.counter_vs_durable_objects = m.counter_hot_ops / (m.do_counter_ops ?? NaN);
    }
    return m;
  },
};
export default state;

/**
 * txn: read-atomic transactions against the same operations done directly on the store, on one
 * Redis server. Each operation reads 4 keys and writes 2 (4 KiB values) over 1,000 keys drawn
 * with Zipf 1.1: a transaction (begin, 4 reads, 2 buffered writes, one commit record) against 4
 * gets and 2 puts. Keys come in pairs that every operation writes together with one tag, and
 * reads together, so a pair read with two different tags is a fractured read: counted for both,
 * under 16 operations in flight. Then the 2-function DAG with `consistency: "read-atomic"` (each
 * function writes one key) on a cluster process over the same Redis, against the same DAG at
 * lww (latencies of each pair in alternating blocks of 100). When it can be set up (root,
 * bench/.scratch), in a network namespace: 64 callers of one read-atomic increment each against
 * Restate's counter, and Restate's durable 2-invocation chain from the peers benchmark against the
 * same work (inc then square) run exactly-once on `stratus up` (fused, as deployed, and unfused),
 * and against the DAG above, in alternating blocks of one run (`restate_vs_exactly_once_p50`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stratus } from "../src/client/index.js";
import { StratusProcess } from "../src/cluster/index.js";
import { HybridClock, LwwLattice, decodeValue, encodeValue } from "../src/lattice/index.js";
import { RedisStore } from "../src/storage/index.js";
import { Transaction, TxnManager, localBackend } from "../src/txn/index.js";
import { RedisServer } from "../testing/redis.js";
import { registerWritingDag } from "./lib/dags.js";
import type { BenchContext, Benchmark, Metrics } from "./lib/harness.js";
import {
  blockRatio,
  interleaved,
  percentiles,
  putRatio,
  throughput,
  warmUp,
} from "./lib/measure.js";
import type { Interleaved } from "./lib/measure.js";
import { runInNetns } from "./peers/netns-run.js";
import { ensureInstalled, measurePeersInNetns, scratch as restateScratch } from "./peers.js";

const PAIRS = 500; // 1,000 keys
const VALUE = "v".repeat(4096 - 16);

/** Zipf(s) over [0, n): inverse CDF on precomputed cumulative weights. */
function zipf(n: number, s: number, seed: number): () => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let i = 1; i <= n; i++) cdf.push((sum += 1 / i ** s));
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const u = (x / 2 ** 31) * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

interface Tagged {
  tag: string;
  v: string;
}

const txnBench: Benchmark = {
  name: "txn",
  description:
    "read-atomic txn (4 reads + 2 writes, 4 KiB, 1,000 keys Zipf 1.1) vs the same ops on Redis; " +
    "exactly-once 2-function DAG; Restate durable chain",
  async run(ctx): Promise<Metrics> {
    const out: Metrics = {};
    const server = await RedisServer.start();
    const store = await RedisStore.connect({ url: server.url, keyPrefix: "bench:" });
    const clock = new HybridClock({ node: "bench" });
    const mgr = await TxnManager.start({ store, clock });
    const backend = localBackend(mgr, clock);
    const pick = zipf(PAIRS, 1.1, 42);
    let seq = 0;
    const anomalies = { txn: 0, raw: 0 };
    const same = (a: Tagged | undefined, b: Tagged | undefined): boolean =>
      (a === undefined && b === undefined) ||
      (a !== undefined && b !== undefined && a.tag === b.tag);

    // A read that would be fractured (a pair written back between the reads of its two keys)
    // fails as a retryable conflict: the transaction starts again, as an application's would.
    let conflicts = 0;
    const txnOp = async (): Promise<void> => {
      for (;;) {
        try {
          return await txnOnce();
        } catch (e) {
          if ((e as { code?: string }).code !== "SNAPSHOT_CONFLICT") throw e;
          conflicts++;
        }
      }
    };
    const txnOnce = async (): Promise<void> => {
      const tx = await Transaction.begin(backend);
      const [r1, r2, w] = [pick(), pick(), pick()];
      const vals: (Tagged | undefined)[] = [];
      for (const k of [`p${r1}a`, `p${r1}b`, `p${r2}a`, `p${r2}b`]) {
        const r = await tx.read(k);
        vals.push(r === undefined ? undefined : decodeValue<Tagged>(r.bytes));
      }
      if (!same(vals[0], vals[1]) || !same(vals[2], vals[3])) anomalies.txn++;
      const tag = `t${seq++}`;
      tx.putBytes(`p${w}a`, encodeValue({ tag, v: VALUE }));
      tx.putBytes(`p${w}b`, encodeValue({ tag, v: VALUE }));
      await tx.commit();
    };
    const rawOp = async (): Promise<void> => {
      const [r1, r2, w] = [pick(), pick(), pick()];
      const vals: (Tagged | undefined)[] = [];
      for (const k of [`p${r1}a`, `p${r1}b`, `p${r2}a`, `p${r2}b`]) {
        const l = await store.get(`u/raw/${k}`);
        vals.push(l === undefined ? undefined : (l as LwwLattice).value<Tagged>());
      }
      if (!same(vals[0], vals[1]) || !same(vals[2], vals[3])) anomalies.raw++;
      const tag = `r${seq++}`;
      await store.put(`u/raw/p${w}a`, LwwLattice.of({ tag, v: VALUE }, clock.now()));
      await store.put(`u/raw/p${w}b`, LwwLattice.of({ tag, v: VALUE }, clock.now()));
    };
    try {
      const n = ctx.quick ? 1500 : 10_000;
      ctx.log("sequential latency: raw and txn in alternating blocks of 100");
      // Alternating blocks: both see the same machine (a shared box drifts between phases).
      const { raw, txn } = (await interleaved({ raw: rawOp, txn: txnOp }, n, 100, 300)) as Record<
        "raw" | "txn",
        Interleaved
      >;
      out.txn_p50_ms = txn.p50;
      out.txn_p99_ms = txn.p99;
      out.raw_p50_ms = raw.p50;
      out.raw_p99_ms = raw.p99;
      putRatio(out, "txn_overhead", blockRatio(txn.blocks, raw.blocks));
      ctx.log("throughput and anomalies, 16 in flight");
      anomalies.txn = 0;
      anomalies.raw = 0;
      conflicts = 0;
      const ms = ctx.quick ? 2000 : 5000;
      out.raw_throughput_ops = await throughput(rawOp, 16, ms);
      out.txn_throughput_tps = await throughput(txnOp, 16, ms);
      out.txn_anomalies = anomalies.txn;
      out.txn_conflict_rate = conflicts / Math.max(1, out.txn_throughput_tps * (ms / 1000));
      out.raw_anomalies = anomalies.raw;
      out.txn_records_stored = await count(store);
    } finally {
      await mgr.close();
      await store.close();
    }

    ctx.log("exactly-once DAG: 2 functions, each writes one key, read-atomic, on Redis");
    const cloud = await Stratus.local({ executors: 2, store: server.url });
    try {
      await registerWritingDag(cloud);
      const sides = {
        dag: (i: number) => cloud.callDag("eo", { eo1: [i] }, { consistency: "read-atomic" }),
        lww: (i: number) => cloud.callDag("eo", { eo1: [i] }),
      };
      await warmUp(sides, 1000); // a fresh cluster
      const { dag, lww } = (await interleaved(sides, ctx.quick ? 400 : 2000, 100, 0)) as Record<
        "dag" | "lww",
        { p50: number; p99: number }
      >;
      out.exactly_once_dag_p50_ms = dag.p50;
      out.exactly_once_dag_p99_ms = dag.p99;
      out.lww_dag_p50_ms = lww.p50;
    } finally {
      await cloud.close();
    }
    try {
      Object.assign(out, await visibilityAndForks(ctx, server.url));
    } finally {
      await server.stop();
    }

    if (!process.argv.includes("--no-restate")) {
      ctx.log("exactly-once increments: a read-atomic run each vs Restate's counter (netns)");
      const tmpState = mkdtempSync(join(tmpdir(), "stratus-txn-state-"));
      try {
        const bin = await ensureInstalled(ctx);
        const m = await runInNetns<Metrics>({
          script: join(import.meta.dirname, "state", "netns.ts"),
          args: [restateScratch, bin, join(tmpState, "mf"), tmpState, "--txn"].concat(
            ctx.quick ? ["--quick"] : [],
          ),
          prefix: "STATE_RESULT",
          timeoutMs: ctx.quick ? 120_000 : 300_000,
          log: (msg) => ctx.log(msg),
        });
        // ra_counter_vs_restate (with its spread) comes from the namespace's paired blocks.
        Object.assign(out, m);
      } catch (e) {
        ctx.log(`the exactly-once counter could not be measured: ${(e as Error).message}`);
      } finally {
        rmSync(tmpState, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      }
      ctx.log(
        "Restate's durable 2-invocation chain vs the exactly-once DAG on stratus up, " +
          "alternating (network namespace)",
      );
      const tmp = mkdtempSync(join(tmpdir(), "stratus-txn-"));
      try {
        const bin = await ensureInstalled(ctx);
        const peers = await measurePeersInNetns(ctx, bin, tmp, true);
        out.restate_chain_p50_ms = peers.restate_dag_p50_ms ?? NaN;
        out.exactly_once_up_p50_ms = peers.stratus_eo_dag_p50_ms ?? NaN;
        out.exactly_once_up_unfused_p50_ms = peers.stratus_eo_unfused_dag_p50_ms ?? NaN;
        out.exactly_once_up_writes_p50_ms = peers.stratus_eo_writes_dag_p50_ms ?? NaN;
        for (const variant of ["", "_unfused", "_writes"]) {
          const name = `restate_vs_exactly_once${variant}_p50`;
          for (const k of [name, `${name}_min`, `${name}_max`]) out[k] = peers[k] ?? NaN;
        }
      } catch (e) {
        ctx.log(`Restate could not be measured: ${(e as Error).message}`);
      } finally {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      }
    }
    return out;
  },
};

/**
 * Two processes (scheduler and node each) over one Redis, a client on each. Visibility: a
 * transaction committed through the first, then the time until the second process sees it,
 * through its node's cache (a function's `ctx.get`) and through its gateway (`get`). Forks: a
 * read-atomic DAG whose two branches (on the two nodes) read a pair of keys while transactions
 * rewrite the pair; the share of runs that met a conflict and ran again.
 */
async function visibilityAndForks(ctx: BenchContext, redisUrl: string): Promise<Metrics> {
  const out: Metrics = {};
  const token = "txn-bench";
  const a = await StratusProcess.start({ token, store: redisUrl, executors: 2, id: "va" });
  const b = await StratusProcess.start({ token, store: redisUrl, executors: 2, id: "vb" });
  const ca = await Stratus.connect(a.url, { token });
  const cb = await Stratus.connect(b.url, { token });
  try {
    await ca.register("vis_get", (c, k: string) => c.get(k));
    ctx.log("commit-to-plain-get lag: commit on one process, poll from the other");
    const viaNode: number[] = [];
    const viaGateway: number[] = [];
    const n = ctx.quick ? 200 : 1000;
    for (let i = 1; i <= n; i++) {
      const tx = await ca.txn.begin();
      tx.put("vis/k", i);
      tx.put("vis/k2", i);
      await tx.commit();
      const t0 = performance.now();
      // Through b's node (its cache, kept fresh by the store's change stream), then its gateway.
      while ((await cb.call("vis_get", ["vis/k"])) !== i) {
        if (performance.now() - t0 > 5000) throw new Error(`commit ${i} never became visible`);
      }
      viaNode.push(performance.now() - t0);
      const t1 = performance.now();
      while ((await cb.get("vis/k2")) !== i) {
        if (performance.now() - t1 > 5000) throw new Error(`commit ${i} never became visible`);
      }
      viaGateway.push(performance.now() - t1);
    }
    const node = percentiles(viaNode);
    out.txn_visible_to_get_p50_ms = node.p50;
    out.txn_visible_to_get_p99_ms = node.p99;
    out.txn_visible_to_client_get_p99_ms = percentiles(viaGateway).p99;

    ctx.log("forked read-atomic runs while transactions rewrite the pair they read");
    await ca.register("fk_src", (_c, x: number) => x);
    await ca.register("fk_a", (c) => c.get("fk/x"));
    await ca.register("fk_b", (c) => c.get("fk/y"));
    await ca.register("fk_j", (_c, x: unknown, y: unknown) => x === y);
    await ca.registerDag("fk", {
      functions: ["fk_src", "fk_a", "fk_b", "fk_j"],
      edges: [
        ["fk_src", "fk_a"],
        ["fk_src", "fk_b"],
        ["fk_a", "fk_j"],
        ["fk_b", "fk_j"],
      ],
    });
    const retries0 = a.dispatcher.counts.retries + b.dispatcher.counts.retries;
    let runs = 0;
    let fractured = 0;
    let writing = true;
    const writers = Array.from({ length: 2 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const tx = await cb.txn.begin();
        tx.put("fk/x", `${w}-${i}`);
        tx.put("fk/y", `${w}-${i}`);
        await tx.commit();
      }
    });
    const until = performance.now() + (ctx.quick ? 3000 : 10_000);
    const readers = Array.from({ length: 8 }, async () => {
      while (performance.now() < until) {
        const same = await ca.callDag("fk", { fk_src: [0] }, { consistency: "read-atomic" });
        runs++;
        if (same !== true) fractured++;
      }
    });
    await Promise.all(readers);
    writing = false;
    await Promise.all(writers);
    const retries = a.dispatcher.counts.retries + b.dispatcher.counts.retries - retries0;
    out.fork_runs = runs;
    out.fork_conflict_rate = retries / Math.max(1, runs);
    out.fork_fractured_reads = fractured;
  } finally {
    await ca.close();
    await cb.close();
    await b.close();
    await a.close();
  }
  return out;
}

async function count(store: RedisStore): Promise<number> {
  let n = 0;
  for await (const _ of store.scan("sys/txn/c/")) n++;
  return n;
}

export default txnBench;

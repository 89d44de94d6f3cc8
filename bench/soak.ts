/**
 * soak: mixed load for 10 minutes (60 s with --quick) on a scheduler and two node processes over a
 * durable Redis (AOF, appendfsync always), with one node SIGKILLed (and replaced) a third of the way
 * in and Redis SIGKILLed and restarted at two thirds. Lanes, each a client of its own:
 * - calls: read-atomic calls that merge 1 into the lane's counter (request ids, retried);
 * - DAGs: read-atomic 2-function DAGs that add the request's tag to the lane's set;
 * - merges: plain `merge` of 1 into the lane's counter (a failed one is not repeated: the only
 *   slack a counter is allowed);
 * - transactions: `cloud.txn` writing the tag to one of 8 keys and merging 1 into a counter;
 * - big values: 8 MiB `put` then `get`, checked byte for byte;
 * - futures: a DAG started with `future: true`, then its result read by id;
 * - messages: a function that sends itself a message and receives it.
 * Every operation is retried while its error is retryable (faults make some), with its request id
 * where it has one. Reported: `soak_errors_unexpected` (an operation that failed for good, or a
 * wrong answer), `soak_lost_acknowledged` (acknowledged increments or tags missing at the end,
 * read plainly and in a transaction), `soak_rss_growth_mb_per_10min` (the processes' resident
 * memory, last window against first, scaled to 10 minutes) and `soak_p99_ms` with the first and
 * last windows' p99.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { Stratus, lattices } from "../src/index.js";
import { isStratusError } from "../src/errors/index.js";
import { startStratus, until } from "../testing/processes.js";
import type { Child } from "../testing/processes.js";
import { RedisServer } from "../testing/redis.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { percentiles } from "./lib/measure.js";

const TOKEN = "soak-token";
const BIG = 8 * 1024 * 1024;

interface Tally {
  acked: number;
  unknown: number;
  tags: Set<string>;
}

class Soak {
  readonly latencies: { at: number; ms: number }[] = [];
  unexpected = 0;
  retried = 0;
  readonly examples: string[] = [];
  readonly counters = new Map<string, Tally>();
  readonly sets = new Map<string, Tally>();
  stop = false;
  readonly t0 = performance.now();

  tally(map: Map<string, Tally>, key: string): Tally {
    let t = map.get(key);
    if (t === undefined) map.set(key, (t = { acked: 0, unknown: 0, tags: new Set() }));
    return t;
  }

  wrong(what: string): void {
    this.unexpected++;
    if (this.examples.length < 10) this.examples.push(what);
  }

  /** Runs `op` until it succeeds or its error is not retryable; true when it succeeded. */
  async attempt(what: string, op: () => Promise<void>): Promise<boolean> {
    for (let a = 1; ; a++) {
      const t = performance.now();
      try {
        await op();
        this.latencies.push({ at: t - this.t0, ms: performance.now() - t });
        return true;
      } catch (e) {
        const retryable =
          isStratusError(e) &&
          (e.retryable || e.code === "NODE_LOST" || e.code === "CLOSED" || e.code === "TIMEOUT");
        if (!retryable || a >= 60) {
          this.wrong(`${what}: ${isStratusError(e) ? e.code : ""} ${(e as Error).message}`);
          return false;
        }
        this.retried++;
        // Nothing says when the cluster can take it again (a node replaced, Redis back).
        await new Promise((r) => setTimeout(r, Math.min(100 * a, 1000)));
      }
    }
  }
}

async function registerAll(cloud: Stratus): Promise<void> {
  await cloud.register("soak_inc", async (ctx, key: string) => {
    await ctx.merge(key, ctx.lattices.counter(1));
    return "ok";
  });
  await cloud.register("soak_tag1", (_ctx, key: string, tag: string) => [key, tag]);
  await cloud.register("soak_tag2", async (ctx, kt: [string, string]) => {
    await ctx.merge(kt[0], ctx.lattices.set([kt[1]]));
    return kt[1];
  });
  await cloud.registerDag("soak_tag", {
    functions: ["soak_tag1", "soak_tag2"],
    edges: [["soak_tag1", "soak_tag2"]],
  });
  await cloud.register("soak_sq", (_ctx, x: number) => x * x);
  await cloud.registerDag("soak_fut", { functions: ["soak_sq"], edges: [] });
  await cloud.register("soak_echo", async (ctx, x: number) => {
    await ctx.send(ctx.id(), x);
    return ctx.recv({ timeoutMs: 10_000 });
  });
}

/** The lanes, each running until `s.stop`. */
function lanes(s: Soak, clients: Stratus[], ns: string): Promise<void>[] {
  const c = (i: number): Stratus => clients[i % clients.length] as Stratus;
  const out: Promise<void>[] = [];
  const loop = (body: (i: number) => Promise<void>): Promise<void> =>
    (async () => {
      for (let i = 0; !s.stop; i++) await body(i);
    })();
  for (let l = 0; l < 2; l++) {
    const key = `${ns}/calls/${l}`;
    out.push(
      loop(async () => {
        const requestId = randomUUID();
        const ok = await s.attempt("call", async () => {
          const r = await c(l).call("soak_inc", [key], { consistency: "read-atomic", requestId });
          if (r !== "ok") throw new Error(`soak_inc answered ${String(r)}`);
        });
        if (ok) s.tally(s.counters, key).acked++;
      }),
    );
    const setKey = `${ns}/dags/${l}`;
    out.push(
      loop(async (i) => {
        const tag = `${l}-${i}`;
        const requestId = randomUUID();
        const ok = await s.attempt("dag", async () => {
          const r = await c(l + 1).callDag(
            "soak_tag",
            { soak_tag1: [setKey, tag] },
            { consistency: "read-atomic", requestId },
          );
          if (r !== tag) throw new Error(`soak_tag answered ${String(r)}`);
        });
        if (ok) s.tally(s.sets, setKey).tags.add(tag);
      }),
    );
    const mKey = `${ns}/merges/${l}`;
    out.push(
      loop(async () => {
        const t = s.tally(s.counters, mKey);
        const t0 = performance.now();
        try {
          await c(l + 2).merge(mKey, lattices.counter(1));
          s.latencies.push({ at: t0 - s.t0, ms: performance.now() - t0 });
          t.acked++;
        } catch (e) {
          // Applied or not: not repeated (its increment would ride on this writer's next one).
          if (!isStratusError(e) || !e.retryable) s.wrong(`merge: ${(e as Error).message}`);
          t.unknown++;
          await new Promise((r) => setTimeout(r, 200));
        }
      }),
    );
    const tKey = `${ns}/txn/${l}`;
    out.push(
      loop(async (i) => {
        const ok = await s.attempt("txn", async () => {
          const tx = await c(l + 3).txn.begin();
          tx.put(`${tKey}/k${i % 8}`, i);
          tx.merge(`${tKey}/n`, lattices.counter(1));
          // A commit of unknown outcome is sent again as it is: it commits once.
          for (let a = 0; ; a++) {
            try {
              return await tx.commit();
            } catch (e) {
              if (!isStratusError(e) || e.code !== "STORAGE_UNAVAILABLE" || a > 20) throw e;
              await new Promise((r) => setTimeout(r, 200));
            }
          }
        });
        if (ok) s.tally(s.counters, `${tKey}/n`).acked++;
      }),
    );
  }
  const big = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += 4096) big[i] = i % 251;
  out.push(
    loop(async (i) => {
      const key = `${ns}/big/${i % 4}`;
      await s.attempt("big", async () => {
        await c(i).put(key, big);
        const back = await c(i + 1).get<Uint8Array>(key);
        if (!(back instanceof Uint8Array) || Buffer.compare(Buffer.from(back), big) !== 0) {
          throw new Error("an 8 MiB value came back different");
        }
      });
    }),
  );
  out.push(
    loop(async (i) => {
      await s.attempt("future", async () => {
        const fut = await c(i).callDag("soak_fut", { soak_sq: [i] }, { future: true });
        const v = await c(i + 1)
          .future(fut.id, { timeoutMs: 20_000 })
          .get();
        if (v !== i * i) throw new Error(`future ${fut.id} answered ${String(v)}`);
      });
    }),
  );
  out.push(
    loop(async (i) => {
      await s.attempt("message", async () => {
        const v = await c(i).call("soak_echo", [i]);
        if (v !== i) throw new Error(`soak_echo answered ${String(v)}`);
      });
    }),
  );
  return out;
}

/** Resident memory of a process, MB. */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? NaN : Number(m[1]) / 1024;
  } catch {
    return NaN;
  }
}

const soakBench: Benchmark = {
  name: "soak",
  description:
    "mixed load (calls, DAGs, merges, transactions, 8 MiB values, futures, messages) for 10 min " +
    "(60 s quick), a node SIGKILLed and Redis restarted midway",
  async run(ctx): Promise<Metrics> {
    const durationMs = ctx.quick ? 60_000 : 600_000;
    const redis = await RedisServer.start({ durable: true });
    const scheduler = await startStratus(
      ["scheduler", "--store", redis.url, "--token", TOKEN],
      /scheduler \S+ at (\S+)\n/,
    );
    const nodes = new Map<string, Child>();
    const startNode = async (id: string): Promise<void> => {
      for (;;) {
        try {
          const child = await startStratus(
            ["node", "--join", scheduler.ready, "--token", TOKEN, "--executors", "4", "--id", id],
            /node (\S+) joined/,
          );
          nodes.set(id, child);
          return;
        } catch {
          // A node started while Redis restarts exits at once: start it again.
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    };
    await Promise.all([startNode("n1"), startNode("n2")]);
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => Stratus.connect(scheduler.ready, { token: TOKEN })),
    );
    const cloud = clients[0] as Stratus;
    const s = new Soak();
    const rss: { at: number; mb: number }[] = [];
    try {
      await until(async () => (await cloud.status()).nodes.length === 2, 30_000, "2 nodes");
      await registerAll(cloud);
      const ns = `soak${Date.now().toString(36)}`;
      ctx.log(`mixed load for ${durationMs / 1000} s`);
      const running = lanes(s, clients, ns);
      const sample = setInterval(() => {
        const mb = [scheduler, ...nodes.values()].reduce((sum, c) => sum + rssMb(c.proc.pid), 0);
        rss.push({ at: performance.now() - s.t0, mb });
      }, 2000);
      await new Promise((r) => setTimeout(r, durationMs / 3));
      const victim = nodes.get("n2") as Child;
      ctx.log("SIGKILL node n2 (replaced by r1)");
      nodes.delete("n2");
      const exited = once(victim.proc, "exit");
      victim.proc.kill("SIGKILL");
      await exited;
      void startNode("r1");
      await new Promise((r) => setTimeout(r, durationMs / 3));
      ctx.log("SIGKILL Redis, start it again");
      await redis.kill("SIGKILL");
      await redis.start();
      await new Promise((r) => setTimeout(r, durationMs / 3));
      s.stop = true;
      await Promise.all(running);
      clearInterval(sample);
      ctx.log("checking what the clients were told against what storage holds");
      let lost = 0;
      const tx = await cloud.txn.begin();
      for (const [key, t] of s.counters) {
        const plain = Number((await cloud.get(key)) ?? 0);
        const inTxn = Number((await tx.get(key)) ?? 0);
        for (const v of [plain, inTxn]) {
          if (v < t.acked) lost += t.acked - v;
          if (v > t.acked + t.unknown) s.wrong(`${key}: ${v} > ${t.acked} + ${t.unknown} unknown`);
        }
      }
      for (const [key, t] of s.sets) {
        const plain = new Set((await cloud.get<string[]>(key)) ?? []);
        const inTxn = new Set((await tx.get<string[]>(key)) ?? []);
        for (const tag of t.tags) {
          if (!plain.has(tag)) lost++;
          if (!inTxn.has(tag)) lost++;
        }
      }
      await tx.abort();
      for (const e of s.examples) ctx.log(`unexpected: ${e}`);
      const window = Math.min(60_000, durationMs / 4);
      const first = s.latencies.filter((l) => l.at < window).map((l) => l.ms);
      const last = s.latencies.filter((l) => l.at > durationMs - window).map((l) => l.ms);
      const firstRss = rss.filter((r) => r.at < window).map((r) => r.mb);
      const lastRss = rss.filter((r) => r.at > durationMs - window).map((r) => r.mb);
      const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const growth = avg(lastRss) - avg(firstRss);
      return {
        soak_errors_unexpected: s.unexpected,
        soak_lost_acknowledged: lost,
        soak_operations: s.latencies.length,
        soak_retried_errors: s.retried,
        soak_p99_ms: percentiles(s.latencies.map((l) => l.ms)).p99,
        soak_p99_first_ms: percentiles(first).p99,
        soak_p99_last_ms: percentiles(last).p99,
        soak_rss_first_mb: avg(firstRss),
        soak_rss_growth_mb_per_10min: growth * (600_000 / Math.max(1, durationMs - window)),
      };
    } finally {
      s.stop = true;
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await Promise.all([scheduler, ...nodes.values()].map((c) => c.stop()));
      await redis.stop();
    }
  },
};

export default soakBench;

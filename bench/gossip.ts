/**
 * gossip: a distributed average by 10 concurrent functions, 5 rounds of push-sum, once over
 * direct messages (`ctx.send`/`ctx.recv`) and once through storage (write a key, poll for the
 * peer's key), on a Redis-backed cluster. Each function keeps half its (value, weight) and pushes
 * half to its ring neighbour every round; the metric is the time of the 5 rounds, after the
 * functions found each other.
 */
import { Stratus } from "../src/index.js";
import { RedisServer } from "../testing/redis.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { percentiles } from "./lib/measure.js";

const p50 = (xs: number[]): number => percentiles(xs).p50;

const N = 10;
const ROUNDS = 5;

const gossip: Benchmark = {
  name: "gossip",
  description: "push-sum average by 10 functions: send/recv vs storage",
  async run(ctx): Promise<Metrics> {
    const runs = ctx.quick ? 10 : 30;
    const redis = await RedisServer.start();
    const cloud = await Stratus.local({ executors: N, store: redis.url });
    try {
      // Both variants: publish this invocation's id, wait until every peer's id is known.
      await cloud.register(
        "pushsum",
        async (ctx, run: string, i: number, n: number, rounds: number, viaStorage: boolean) => {
          await ctx.put(`g/${run}/id/${i}`, ctx.id());
          const early: [number, number][] = [];
          const ids: string[] = [];
          for (let k = 0; k < n; k++) {
            let id: string | undefined;
            while ((id = await ctx.get<string>(`g/${run}/id/${k}`)) === undefined) {
              await new Promise((r) => setTimeout(r, 1));
            }
            ids.push(id);
          }
          const next = (i + 1) % n;
          const to = ids[next] as string;
          // A message barrier, so all functions start the timed rounds within microseconds.
          if (i === 0) {
            for (let k = 1; k < n; k++) await ctx.recv({ timeoutMs: 10_000 });
            for (let k = 1; k < n; k++) await ctx.send(ids[k] as string, "go");
          } else {
            await ctx.send(ids[0] as string, "ready");
            // A neighbour that got its "go" first may already have sent round 0: keep it.
            let m: unknown;
            while ((m = await ctx.recv({ timeoutMs: 10_000 })) !== "go")
              early.push(m as [number, number]);
          }
          let s = i;
          let w = 1;
          const t0 = performance.now();
          for (let r = 0; r < rounds; r++) {
            s /= 2;
            w /= 2;
            let got: [number, number] | undefined;
            if (viaStorage) {
              await ctx.put(`g/${run}/m/${r}/${next}`, [s, w]);
              while (
                (got = await ctx.get<[number, number]>(`g/${run}/m/${r}/${i}`)) === undefined
              ) {
                await new Promise((res) => setImmediate(res));
              }
            } else {
              await ctx.send(to, [s, w]);
              got = early.shift() ?? (await ctx.recv<[number, number]>({ timeoutMs: 10_000 }));
              if (got === undefined) throw new Error(`round ${r}: no message`);
            }
            s += got[0];
            w += got[1];
          }
          return { estimate: s / w, ms: performance.now() - t0 };
        },
      );
      const m: Metrics = {};
      for (const viaStorage of [false, true]) {
        const times: number[] = [];
        for (let r = 0; r < runs + 2; r++) {
          const run = `${viaStorage ? "s" : "m"}${r}`;
          const out = await Promise.all(
            Array.from({ length: N }, (_, i) =>
              cloud.call<{ estimate: number; ms: number }>("pushsum", [
                run,
                i,
                N,
                ROUNDS,
                viaStorage,
              ]),
            ),
          );
          const truth = (N - 1) / 2;
          for (const o of out)
            if (!(Math.abs(o.estimate - truth) < truth))
              throw new Error(`bad estimate ${o.estimate}`);
          if (r >= 2) times.push(Math.max(...out.map((o) => o.ms)));
        }
        ctx.log(`${viaStorage ? "storage" : "messaging"}: p50 ${p50(times).toFixed(2)} ms`);
        m[viaStorage ? "storage_p50_ms" : "messaging_p50_ms"] = p50(times);
      }
      m.storage_vs_messaging = (m.storage_p50_ms ?? 0) / (m.messaging_p50_ms ?? 1);
      return m;
    } finally {
      await cloud.close();
      await redis.stop();
    }
  },
};
export default gossip;

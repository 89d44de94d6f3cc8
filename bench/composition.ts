/**
 * composition: square(increment(x)) as a 2-function DAG from a client over TCP to `stratus up`
 * with 2 executors, against the lower bound of the same functions in-process behind node:http.
 */
import { Agent, request } from "node:http";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { percentiles, throughput } from "./lib/measure.js";
import { startTs, stratusUp } from "../test/support/processes.js";

function httpCall(agent: Agent, port: number, x: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/", agent }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(Number(body)));
    });
    req.on("error", reject);
    req.end(String(x));
  });
}

/**
 * Sequential latency of several operations measured in alternating blocks, so that each sees
 * the same machine (this 2-core box drifts between runs by more than the differences we
 * measure): a ratio of two p50s from one interleaved run is what the target is about.
 */
async function interleaved(
  ops: Record<string, (i: number) => Promise<unknown>>,
  n: number,
  block = 100,
): Promise<Record<string, { p50: number; p99: number }>> {
  const names = Object.keys(ops);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (const name of names) for (let i = 0; i < 500; i++) await ops[name]?.(i); // warm-up
  for (let done = 0; done < n; done += block) {
    for (const name of names) {
      const op = ops[name] as (i: number) => Promise<unknown>;
      const out = samples[name] as number[];
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await op(done + i);
        out.push(performance.now() - t0);
      }
    }
  }
  return Object.fromEntries(names.map((k) => [k, percentiles(samples[k] as number[])]));
}

const composition: Benchmark = {
  name: "composition",
  description: "2-function DAG over TCP to `stratus up` (2 executors) vs in-process node:http",
  async run(ctx): Promise<Metrics> {
    const n = ctx.quick ? 1000 : 2000;
    const seconds = ctx.quick ? 4 : 10;
    const m: Metrics = {};

    ctx.log("starting stratus up --executors 2 and the node:http lower bound");
    const [up, http] = await Promise.all([
      stratusUp(["--executors", "2"]),
      startTs("bench/fixtures/http-server.ts", [], /listening on (\d+)\n/),
    ]);
    const port = Number(http.ready);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const cloud = await Stratus.connect(up.url, { token: up.token });
    try {
      await cloud.register("inc", async (_ctx, x: number) => x + 1);
      await cloud.register("square", (_ctx, x: number) => x * x);
      await cloud.registerDag("pipeline", {
        functions: ["inc", "square"],
        edges: [["inc", "square"]],
      });
      if ((await cloud.callDag("pipeline", { inc: [3] })) !== 16)
        throw new Error("wrong DAG result");
      if ((await httpCall(agent, port, 3)) !== 16) throw new Error("wrong HTTP result");
      ctx.log(`${n} sequential calls, DAG runs and HTTP requests, interleaved in blocks`);
      const lat = await interleaved(
        {
          call: (i) => cloud.call("inc", [i]),
          dag: (i) => cloud.callDag("pipeline", { inc: [i] }),
          http: (i) => httpCall(agent, port, i),
        },
        n,
      );
      m.call_p50_ms = lat.call?.p50 ?? NaN;
      m.dag_p50_ms = lat.dag?.p50 ?? NaN;
      m.dag_p99_ms = lat.dag?.p99 ?? NaN;
      m.inprocess_http_p50_ms = lat.http?.p50 ?? NaN;
      ctx.log(`64 DAG runs in flight for ${seconds} s, then 64 HTTP requests`);
      m.dag_throughput_rps = await throughput(
        (i) => cloud.callDag("pipeline", { inc: [i] }),
        64,
        seconds * 1000,
      );
      m.inprocess_http_rps = await throughput(
        (i) => httpCall(agent, port, i),
        64,
        Math.min(seconds, 4) * 1000,
      );
    } finally {
      agent.destroy();
      await cloud.close();
      await Promise.all([up.stop(), http.stop()]);
    }
    m.dag_vs_inprocess = (m.dag_p50_ms ?? 0) / (m.inprocess_http_p50_ms ?? 1);
    return m;
  },
};
export default composition;

/**
 * composition: square(increment(x)) as a 2-function DAG from a client over TCP, against the lower
 * bound of the same functions in-process behind node:http. Measured on three shapes:
 * - `stratus up --executors 2`: both functions fused in one worker (the easy case);
 * - the same with `--no-fuse`: each function its own invocation on one node;
 * - a scheduler and two node processes over Redis, `inc` pinned to one and `square` to the other
 *   (`--pin`), so the intermediate result crosses TCP between nodes.
 * Latencies are sequential and interleaved in blocks; throughputs of the DAG and of HTTP alternate
 * in blocks under the same load (64 in flight); then four client processes, 64 in flight each.
 */
import { Agent } from "node:http";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { httpCall } from "./lib/http-call.js";
import { alternatingThroughput, interleaved } from "./lib/measure.js";
import { RedisServer } from "../testing/redis.js";
import { startStratus, startTs, stratusUp } from "../testing/processes.js";
import type { Child } from "../testing/processes.js";

const TOKEN = "bench-token";

async function registerPipeline(cloud: Stratus): Promise<void> {
  await cloud.register("inc", async (_ctx, x: number) => x + 1);
  await cloud.register("square", (_ctx, x: number) => x * x);
  await cloud.registerDag("pipeline", { functions: ["inc", "square"], edges: [["inc", "square"]] });
  if ((await cloud.callDag("pipeline", { inc: [3] })) !== 16) throw new Error("wrong DAG result");
}

/** A scheduler and two nodes (1 executor each), separate processes, over `redisUrl`. */
async function crossNode(redisUrl: string): Promise<{ url: string; children: Child[] }> {
  const store = `${redisUrl}?prefix=comp:`;
  const sched = await startStratus(
    ["scheduler", "--store", store, "--token", TOKEN, "--pin", "inc=xa", "--pin", "square=xb"],
    /scheduler \S+ at (\S+)\n/,
  );
  const nodes = await Promise.all(
    ["xa", "xb"].map((id) =>
      startStratus(
        ["node", "--join", sched.ready, "--token", TOKEN, "--executors", "1", "--id", id],
        /node (\S+) joined/,
      ),
    ),
  );
  return { url: sched.ready, children: [sched, ...nodes] };
}

/** `clients` load-client processes against one target, measuring the same interval. */
async function clientProcesses(args: string[], clients: number, ms: number): Promise<number> {
  const procs = await Promise.all(
    Array.from({ length: clients }, () =>
      startTs("bench/fixtures/load-client.ts", [...args, "--ms", String(ms)], /^ready\n/m),
    ),
  );
  const results = procs.map(
    (c) =>
      new Promise<number>((resolve, reject) => {
        let out = "";
        c.proc.stdout?.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /rps (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        c.proc.once("exit", (code) => reject(new Error(`load client exited (${code})`)));
      }),
  );
  for (const c of procs) c.proc.kill("SIGUSR2");
  try {
    return (await Promise.all(results)).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(procs.map((c) => c.stop()));
  }
}

const composition: Benchmark = {
  name: "composition",
  description: "2-function DAG over TCP: fused, unfused, across two nodes; vs in-process node:http",
  async run(ctx): Promise<Metrics> {
    const n = ctx.quick ? 1000 : 3000;
    const blockMs = ctx.quick ? 1000 : 2000;
    const blocks = ctx.quick ? 2 : 5;
    const m: Metrics = {};

    ctx.log("starting stratus up (fused, unfused), node:http, and scheduler + 2 nodes on Redis");
    const redis = await RedisServer.start();
    const children: Child[] = [];
    const clouds: Stratus[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    try {
      const [up, unfused, http, cross] = await Promise.all([
        stratusUp(["--executors", "2"]),
        stratusUp(["--executors", "2", "--no-fuse"]),
        startTs("bench/fixtures/http-server.ts", [], /listening on (\d+)\n/),
        crossNode(redis.url),
      ]);
      children.push(up, unfused, http, ...cross.children);
      const port = Number(http.ready);
      const [cloud, cloudUnfused, cloudCross] = await Promise.all(
        [up.url, unfused.url, cross.url].map((u) => Stratus.connect(u, { token: up.token })),
      );
      clouds.push(cloud as Stratus, cloudUnfused as Stratus, cloudCross as Stratus);
      const [c, cu, cx] = clouds as [Stratus, Stratus, Stratus];
      while ((await cx.status()).nodes.length < 2) await new Promise((r) => setTimeout(r, 20));
      // The pins hold: the first function runs on xa, the second on xb.
      await cx.register("inc", async (ctx) => ctx.id());
      await cx.register("square", (ctx, up: string) => [up, ctx.id()]);
      await cx.registerDag("pipeline", {
        functions: ["inc", "square"],
        edges: [["inc", "square"]],
      });
      const ids = await cx.callDag<string[]>("pipeline", { inc: [0] });
      if (!(ids[0]?.startsWith("xa.") === true && ids[1]?.startsWith("xb.") === true))
        throw new Error(`cross-node DAG ran on ${ids.join(", ")}, not xa then xb`);
      await Promise.all([c, cu, cx].map(registerPipeline));
      if ((await httpCall(agent, port, 3)) !== 16) throw new Error("wrong HTTP result");
      const where = await cx.callDag<number>("pipeline", { inc: [1] });
      if (where !== 4) throw new Error("wrong cross-node DAG result");

      ctx.log(`${n} sequential calls of each kind, interleaved in blocks of 100`);
      const lat = await interleaved(
        {
          call: (i) => c.call("inc", [i]),
          dag: (i) => c.callDag("pipeline", { inc: [i] }),
          unfused: (i) => cu.callDag("pipeline", { inc: [i] }),
          cross: (i) => cx.callDag("pipeline", { inc: [i] }),
          http: (i) => httpCall(agent, port, i),
        },
        n,
      );
      m.call_p50_ms = lat.call?.p50 ?? NaN;
      m.dag_p50_ms = lat.dag?.p50 ?? NaN;
      m.dag_p99_ms = lat.dag?.p99 ?? NaN;
      m.dag_unfused_p50_ms = lat.unfused?.p50 ?? NaN;
      m.dag_cross_node_p50_ms = lat.cross?.p50 ?? NaN;
      m.dag_cross_node_p99_ms = lat.cross?.p99 ?? NaN;
      m.inprocess_http_p50_ms = lat.http?.p50 ?? NaN;
      m.inprocess_http_p99_ms = lat.http?.p99 ?? NaN;

      ctx.log(`64 DAG runs, then 64 HTTP requests in flight, alternating ${blocks}x${blockMs} ms`);
      const rps = await alternatingThroughput(
        {
          dag: (i) => c.callDag("pipeline", { inc: [i] }),
          http: (i) => httpCall(agent, port, i),
        },
        64,
        blockMs,
        blocks,
      );
      m.dag_throughput_rps = rps.dag ?? NaN;
      m.inprocess_http_rps = rps.http ?? NaN;

      ctx.log("4 client processes, 64 in flight each: DAG runs, then HTTP requests");
      const ms = blockMs * 2;
      m.dag_throughput_rps_4clients = await clientProcesses(
        ["--kind", "dag", "--url", up.url, "--token", up.token],
        4,
        ms,
      );
      m.inprocess_http_rps_4clients = await clientProcesses(
        ["--kind", "http", "--port", String(port)],
        4,
        ms,
      );
    } finally {
      agent.destroy();
      await Promise.all(clouds.map((c) => c.close()));
      await Promise.all(children.map((c) => c.stop()));
      await redis.stop();
    }
    m.dag_vs_inprocess = (m.dag_p50_ms ?? 0) / (m.inprocess_http_p50_ms ?? 1);
    m.cross_node_vs_inprocess = (m.dag_cross_node_p50_ms ?? 0) / (m.inprocess_http_p50_ms ?? 1);
    m.throughput_vs_http = (m.dag_throughput_rps ?? 0) / (m.inprocess_http_rps ?? 1);
    return m;
  },
};
export default composition;

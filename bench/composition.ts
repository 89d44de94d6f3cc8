/**
 * composition: square(increment(x)) as a 2-function DAG from a client over TCP, against the lower
 * bound of the same functions in-process behind node:http. Measured on three shapes:
 * - `stratus up --executors 2`: both functions fused in one worker (the easy case);
 * - the same with `--no-fuse`: each function its own invocation on one node;
 * - a scheduler and two node processes over Redis, `inc` pinned to one and `square` to the other
 *   (`--pin`), so the intermediate result crosses TCP between nodes.
 * Latencies are sequential and interleaved in blocks; throughputs of the DAG and of HTTP alternate
 * in blocks under the same load (64 in flight); then four client processes, 64 in flight each.
 * Each headline ratio is the median of the ratios of paired blocks, with their min and max.
 * Tracing: a second scheduler and two nodes, the same but exporting OpenTelemetry traces to an
 * OTLP/HTTP receiver on loopback (`--otlp-endpoint`, bench/fixtures/otlp-receiver.ts), against the untraced cross-node cluster in
 * alternating blocks of sequential calls, once both clusters are as warm: `tracing_on_overhead`
 * is the median of the blocks' p50 ratios (traced / untraced), with their min and max.
 */
import { Agent } from "node:http";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { httpCall } from "./lib/http-call.js";
import { alternatingBlocks, blockRatio, interleaved, median, putRatio } from "./lib/measure.js";
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

/**
 * A scheduler and two nodes (1 executor each), separate processes, over `redisUrl`; with
 * `otlp`, each exports its spans there. `ids`: the nodes, `inc` pinned to the first.
 */
async function crossNode(
  redisUrl: string,
  ids: [string, string] = ["xa", "xb"],
  otlp?: string,
): Promise<{ url: string; children: Child[] }> {
  const store = `${redisUrl}?prefix=comp-${ids[0]}:`;
  const traced = otlp === undefined ? [] : ["--otlp-endpoint", otlp];
  const pins = ["--pin", `inc=${ids[0]}`, "--pin", `square=${ids[1]}`];
  const sched = await startStratus(
    ["scheduler", "--store", store, "--token", TOKEN, ...pins, ...traced],
    /scheduler \S+ at (\S+)\n/,
  );
  const nodes = await Promise.all(
    ids.map((id) =>
      startStratus(
        [
          "node",
          "--join",
          sched.ready,
          "--token",
          TOKEN,
          "--executors",
          "1",
          "--id",
          id,
          ...traced,
        ],
        /node (\S+) joined/,
      ),
    ),
  );
  return { url: sched.ready, children: [sched, ...nodes] };
}

/** Waits for both nodes of a {@link crossNode} cluster and checks its pins hold. */
async function checkPins(cloud: Stratus, ids: [string, string]): Promise<void> {
  while ((await cloud.status()).nodes.length < 2) await new Promise((r) => setTimeout(r, 20));
  await cloud.register("inc", async (ctx) => ctx.id());
  await cloud.register("square", (ctx, up: string) => [up, ctx.id()]);
  await cloud.registerDag("pipeline", { functions: ["inc", "square"], edges: [["inc", "square"]] });
  const ran = await cloud.callDag<string[]>("pipeline", { inc: [0] });
  if (!(ran[0]?.startsWith(`${ids[0]}.`) === true && ran[1]?.startsWith(`${ids[1]}.`) === true))
    throw new Error(`cross-node DAG ran on ${ran.join(", ")}, not ${ids[0]} then ${ids[1]}`);
}

/**
 * `blocks` pairs of blocks of `perBlock` sequential calls, traced and untraced, the order
 * alternating: each pair's p50 ratio (on / off), and the p50s over all blocks.
 */
async function tracingBlocks(
  off: (i: number) => Promise<unknown>,
  on: (i: number) => Promise<unknown>,
  blocks: number,
  perBlock: number,
): Promise<{ ratios: number[]; offP50: number; onP50: number }> {
  const ratios: number[] = [];
  const all = { off: [] as number[], on: [] as number[] };
  const block = async (op: (i: number) => Promise<unknown>): Promise<number[]> => {
    const out: number[] = [];
    // Unmeasured: the first calls after a switch find this cluster's processes cold and the
    // other's hot (the first read 1.35x the rest), whichever is traced.
    for (let i = 0; i < 2; i++) await op(i);
    for (let i = 0; i < perBlock; i++) {
      const t0 = performance.now();
      await op(i);
      out.push(performance.now() - t0);
    }
    return out;
  };
  for (let b = 0; b < blocks; b++) {
    const first = b % 2 === 0 ? "off" : "on";
    const a = await block(first === "off" ? off : on);
    const c = await block(first === "off" ? on : off);
    const [offMs, onMs] = first === "off" ? [a, c] : [c, a];
    all.off.push(...offMs);
    all.on.push(...onMs);
    ratios.push(median(onMs) / median(offMs));
  }
  return { ratios, offP50: median(all.off), onP50: median(all.on) };
}

/** How many spans the receiver process has received so far. */
function spansReceived(receiver: Child): Promise<number> {
  return new Promise((resolve) => {
    let out = "";
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /spans (\d+)\n/.exec(out);
      if (m === null) return;
      receiver.proc.stdout?.off("data", onData);
      resolve(Number(m[1]));
    };
    receiver.proc.stdout?.on("data", onData);
    receiver.proc.kill("SIGUSR2");
  });
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
    const blocks = ctx.quick ? 3 : 5;
    const m: Metrics = {};

    ctx.log("starting stratus up (fused, unfused), node:http, and scheduler + 2 nodes on Redis");
    const redis = await RedisServer.start();
    const children: Child[] = [];
    const clouds: Stratus[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    try {
      const receiver = await startTs("bench/fixtures/otlp-receiver.ts", [], /listening on (\S+)\n/);
      children.push(receiver);
      const [up, unfused, http, cross, traced] = await Promise.all([
        stratusUp(["--executors", "2"]),
        stratusUp(["--executors", "2", "--no-fuse"]),
        startTs("bench/fixtures/http-server.ts", [], /listening on (\d+)\n/),
        crossNode(redis.url),
        crossNode(redis.url, ["ta", "tb"], receiver.ready),
      ]);
      children.push(up, unfused, http, ...cross.children, ...traced.children);
      const tx = await Stratus.connect(traced.url, { token: up.token });
      clouds.push(tx);
      const port = Number(http.ready);
      const [cloud, cloudUnfused, cloudCross] = await Promise.all(
        [up.url, unfused.url, cross.url].map((u) => Stratus.connect(u, { token: up.token })),
      );
      clouds.push(cloud as Stratus, cloudUnfused as Stratus, cloudCross as Stratus);
      const [c, cu, cx] = [cloud, cloudUnfused, cloudCross] as [Stratus, Stratus, Stratus];
      // Both cross-node clusters go through the same steps, so that they differ in tracing only.
      await checkPins(cx, ["xa", "xb"]);
      await checkPins(tx, ["ta", "tb"]);
      await Promise.all([c, cu, cx, tx].map(registerPipeline));
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
      const httpBlocks = lat.http?.blocks ?? [];
      putRatio(m, "dag_vs_inprocess", blockRatio(lat.dag?.blocks ?? [], httpBlocks));
      putRatio(m, "cross_node_vs_inprocess", blockRatio(lat.cross?.blocks ?? [], httpBlocks));

      // Many short pairs: on a shared machine the load drifts within a second, and a pair of
      // 100-call blocks (~150 ms each) read anywhere from 0.6 to 4 in one run.
      const tracingPairs = ctx.quick ? 100 : 300;
      const perBlock = 10;
      ctx.log(`tracing: ${tracingPairs} pairs of ${perBlock}-call blocks, traced vs untraced`);
      // The untraced cluster has just served n calls; the traced one, a handful. Warm it as
      // much, then both through one unmeasured round of blocks: without the warm-up an A/A
      // comparison (both clusters untraced) read 1.75, and without the round still 1.2.
      const off = (i: number): Promise<unknown> => cx.callDag("pipeline", { inc: [i] });
      const on = (i: number): Promise<unknown> => tx.callDag("pipeline", { inc: [i] });
      for (let i = 0; i < n; i++) await on(i);
      await tracingBlocks(off, on, tracingPairs, perBlock);
      const spansBefore = await spansReceived(receiver);
      const tr = await tracingBlocks(off, on, tracingPairs, perBlock);
      m.dag_cross_node_traced_p50_ms = tr.onP50;
      m.dag_cross_node_untraced_p50_ms = tr.offP50;
      m.tracing_on_overhead = median(tr.ratios);
      m.tracing_on_overhead_min = Math.min(...tr.ratios);
      m.tracing_on_overhead_max = Math.max(...tr.ratios);
      // Exported while measured (each node sends every second): at least one span per call.
      await new Promise((r) => setTimeout(r, 1500));
      m.tracing_spans_received = (await spansReceived(receiver)) - spansBefore;

      ctx.log(`64 DAG runs, then 64 HTTP requests in flight, alternating ${blocks}x${blockMs} ms`);
      const rps = await alternatingBlocks(
        {
          dag: (i) => c.callDag("pipeline", { inc: [i] }),
          http: (i) => httpCall(agent, port, i),
        },
        64,
        blockMs,
        blocks,
      );
      const mean = (xs: number[] = []): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      m.dag_throughput_rps = Math.round(mean(rps.dag));
      m.inprocess_http_rps = Math.round(mean(rps.http));
      putRatio(m, "throughput_vs_http", blockRatio(rps.dag ?? [], rps.http ?? []));

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
    return m;
  },
};
export default composition;

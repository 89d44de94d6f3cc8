/**
 * composition: square(increment(x)) as a 2-function DAG from a client over TCP to `stratus up`
 * with 2 executors, against the lower bound of the same functions in-process behind node:http.
 */
import { Agent, request } from "node:http";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { sequentialLatency, throughput } from "./lib/measure.js";
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

const composition: Benchmark = {
  name: "composition",
  description: "2-function DAG over TCP to `stratus up` (2 executors) vs in-process node:http",
  async run(ctx): Promise<Metrics> {
    const n = ctx.quick ? 1000 : 2000;
    const seconds = ctx.quick ? 4 : 10;
    const m: Metrics = {};

    ctx.log("starting stratus up --executors 2");
    const up = await stratusUp(["--executors", "2"]);
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
      ctx.log(`${n} sequential calls and DAG runs`);
      const call = await sequentialLatency((i) => cloud.call("inc", [i]), n);
      const dag = await sequentialLatency((i) => cloud.callDag("pipeline", { inc: [i] }), n);
      m.call_p50_ms = call.p50 / 1000;
      m.dag_p50_ms = dag.p50 / 1000;
      m.dag_p99_ms = dag.p99 / 1000;
      ctx.log(`64 DAG runs in flight for ${seconds} s`);
      m.dag_throughput_rps = await throughput(
        (i) => cloud.callDag("pipeline", { inc: [i] }),
        64,
        seconds * 1000,
      );
    } finally {
      await cloud.close();
      await up.stop();
    }

    ctx.log("in-process lower bound behind node:http");
    const http = await startTs("bench/fixtures/http-server.ts", [], /listening on (\d+)\n/);
    const port = Number(http.ready);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    try {
      if ((await httpCall(agent, port, 3)) !== 16) throw new Error("wrong HTTP result");
      const h = await sequentialLatency((i) => httpCall(agent, port, i), n);
      m.inprocess_http_p50_ms = h.p50 / 1000;
      m.inprocess_http_rps = await throughput(
        (i) => httpCall(agent, port, i),
        64,
        Math.min(seconds, 4) * 1000,
      );
    } finally {
      agent.destroy();
      await http.stop();
    }
    m.dag_vs_inprocess = (m.dag_p50_ms ?? 0) / (m.inprocess_http_p50_ms ?? 1);
    return m;
  },
};
export default composition;

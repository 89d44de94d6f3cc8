/**
 * bytes: how fast big values (tensors, images, frames) move. A 2-function DAG passes a tensor of
 * 8 MiB (and of 1 MiB) from the client through both functions and back, the first returning its
 * input and the second a derived tensor of the same size; the lower bound is a node:http echo of
 * the same bytes in the same process. Both are measured in alternating blocks in one run, and the
 * targets are the ratios of their p50s. Raw p50s at 8 MiB: a one-way call (the function returns
 * the length), an identity round trip, put and get.
 *
 * `measureBytes` is exported so that other benchmarks (dataflow) can include these figures.
 */
import { createServer, request, Agent } from "node:http";
import type { Server } from "node:http";
import { Stratus } from "../src/index.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { interleaved } from "./lib/measure.js";

const MIB = 1024 * 1024;

/** A node:http server answering every POST with its body. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => res.end(Buffer.concat(parts)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function echo(agent: Agent, port: number, body: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/", agent }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve(Buffer.concat(parts)));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A tensor of `bytes` bytes whose first element is `first`. */
function tensor(bytes: number, first: number): Float32Array {
  const t = new Float32Array(bytes / 4);
  for (let i = 0; i < t.length; i += 1024) t[i] = i % 7;
  t[0] = first;
  return t;
}

/** Registers the functions and the DAG the measurements use. */
async function register(cloud: Stratus): Promise<void> {
  await cloud.register("bytesPass", (_ctx, x: Float32Array) => x);
  await cloud.register("bytesBump", (_ctx, x: Float32Array) => {
    const y = x.slice();
    y[0] = (y[0] ?? 0) + 1;
    return y;
  });
  await cloud.register("bytesLen", (_ctx, x: Float32Array) => x.byteLength);
  await cloud.registerDag("bytesTwo", {
    functions: ["bytesPass", "bytesBump"],
    edges: [["bytesPass", "bytesBump"]],
  });
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bytes benchmark: ${what}`);
}

/** Options of {@link measureBytes}. */
export interface BytesOptions {
  quick: boolean;
  log(msg: string): void;
  /** A cluster to measure; by default an embedded one (`Stratus.local`, 2 executors). */
  cloud?: Stratus;
}

/**
 * Measures the bytes path and returns `bytes_8mib_vs_http`, `bytes_1mib_vs_http` and raw p50s
 * in milliseconds (`bytes_8mib_*_p50_ms`).
 *
 * @example
 * ```ts
 * const metrics = await measureBytes({ quick: true, log: console.error });
 * metrics.bytes_8mib_vs_http; // e.g. 1.8
 * ```
 */
export async function measureBytes(o: BytesOptions): Promise<Metrics> {
  const cloud = o.cloud ?? (await Stratus.local({ executors: 2 }));
  const { server, port } = await echoServer();
  const agent = new Agent({ keepAlive: true });
  try {
    await register(cloud);
    const n = o.quick ? 30 : 200;
    const block = o.quick ? 10 : 20;
    const warmup = o.quick ? 5 : 20;
    const metrics: Metrics = {};
    for (const mib of [8, 1]) {
      const input = tensor(mib * MIB, 1);
      const out = await cloud.callDag<Float32Array>("bytesTwo", { bytesPass: [input] });
      check(out instanceof Float32Array && out.length === input.length, "DAG result size");
      check(out[0] === 2 && out[1024] === input[1024], "DAG result content");
      o.log(`${mib} MiB: DAG vs node:http echo, ${n} each`);
      const r = await interleaved(
        {
          http: () => echo(agent, port, new Uint8Array(input.buffer)),
          dag: () => cloud.callDag("bytesTwo", { bytesPass: [input] }),
        },
        n,
        block,
        warmup,
      );
      const dag = r.dag?.p50 ?? NaN;
      const http = r.http?.p50 ?? NaN;
      metrics[`bytes_${mib}mib_vs_http`] = dag / http;
      metrics[`bytes_${mib}mib_dag_p50_ms`] = dag;
      metrics[`bytes_${mib}mib_http_p50_ms`] = http;
    }
    const input = tensor(8 * MIB, 1);
    check((await cloud.call("bytesLen", [input])) === 8 * MIB, "one-way length");
    await cloud.put("bytes/8mib", input);
    const back = await cloud.get<Float32Array>("bytes/8mib");
    check(back instanceof Float32Array && back[1024] === input[1024], "get content");
    o.log("8 MiB: one-way call, identity round trip, put, get");
    const raw = await interleaved(
      {
        oneway: () => cloud.call("bytesLen", [input]),
        identity: () => cloud.call("bytesPass", [input]),
        put: () => cloud.put("bytes/8mib", input),
        get: () => cloud.get("bytes/8mib"),
      },
      o.quick ? 10 : 100,
      o.quick ? 10 : 20,
      warmup,
    );
    for (const [k, v] of Object.entries(raw)) metrics[`bytes_8mib_${k}_p50_ms`] = v.p50;
    return metrics;
  } finally {
    agent.destroy();
    server.close();
    if (o.cloud === undefined) await cloud.close();
  }
}

const bytes: Benchmark = {
  name: "bytes",
  description: "8 MiB / 1 MiB tensors through a 2-function DAG vs a node:http echo; call, put, get",
  run: (ctx) => measureBytes(ctx),
};

export default bytes;

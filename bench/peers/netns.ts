/**
 * The measuring side of bench/peers.ts, run inside a private network namespace (`unshare -n`, only
 * loopback up): starts restate-server bound to 127.0.0.1 and the SDK endpoint
 * (bench/peers/endpoint.mjs), and two Stratus clusters (`stratus up --no-fuse`, one on its default
 * memory store, one on a redis-server with `appendfsync everysec`). This one client measures all
 * three on the same shape, two functions that each run as their own invocation (Restate:
 * `pair.run` computing inc and calling `math.square`; Stratus: the inc→square DAG with chains
 * off), in alternating blocks, and prints one line `PEERS_RESULT <json metrics>` to stdout.
 * Progress and diagnostics go to stderr.
 *
 * `--exactly-once` (for bench/txn.ts) adds, to the same alternating blocks, the inc→square DAG run
 * `read-atomic` (exactly-once, as Restate's chain is): on a third `stratus up` with its defaults
 * (chains fused) over the same Redis, and unfused on the second; and on the third, a DAG whose two
 * functions also write a key each.
 *
 * usage: node --import tsx bench/peers/netns.ts <scratch dir> <restate-server binary> <temp dir>
 *        [--quick] [--exactly-once]
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join, resolve as resolvePath } from "node:path";
import { Stratus } from "../../src/index.js";
import { stratusUp } from "../../testing/processes.js";
import { registerWritingDag } from "../lib/dags.js";
import { alternatingBlocks, blockRatio, interleaved, putRatio, warmUp } from "../lib/measure.js";

/** Fixed ports: the namespace is private, so they cannot collide with anything else. */
const INGRESS_PORT = 8080;
const ADMIN_PORT = 9070;
const NODE_PORT = 5122;
const ENDPOINT_PORT = 9080;
const REDIS_PORT = 6390;
const HOST = "127.0.0.1";
const REQUEST_TIMEOUT_MS = 30_000;
const STARTUP_TIMEOUT_MS = 60_000;

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

const [scratch, serverBin, tmp] = process.argv.slice(2, 5).map((a) => resolvePath(a));
const quick = process.argv.includes("--quick");
const exactlyOnce = process.argv.includes("--exactly-once");
if (scratch === undefined || serverBin === undefined || tmp === undefined) {
  log("usage: netns.ts <scratch dir> <restate-server binary> <temp dir> [--quick]");
  process.exit(2);
}

const children: ChildProcess[] = [];
/** Children that could not be started at all (`spawn` errors), by process. */
const spawnErrors = new Map<ChildProcess, Error>();

function track(c: ChildProcess): ChildProcess {
  children.push(c);
  c.on("error", (err) => spawnErrors.set(c, err));
  return c;
}

/** SIGTERM to every child, SIGKILL to those still running after `graceMs`. */
async function stopChildren(graceMs = 3000): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill("SIGKILL"), graceMs);
          c.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
          c.kill("SIGTERM");
        }),
    ),
  );
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill("SIGKILL");
    process.exit(130);
  });
}

/** A failure that waiting longer cannot fix. */
class Fatal extends Error {}

function alive(c: ChildProcess, name: string): void {
  const err = spawnErrors.get(c);
  if (err !== undefined) throw new Fatal(`cannot start ${name}: ${err.message}`);
  if (c.exitCode !== null || c.signalCode !== null) {
    throw new Fatal(`${name} exited (${c.exitCode ?? c.signalCode}) unexpectedly`);
  }
}

/** Polls `probe` every 100 ms until it returns a value, failing after `ms` with the last error. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last = "";
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms / 1000} s waiting for ${what}${last ? `: ${last}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface HttpResult {
  status: number;
  body: string;
}

function http(
  agent: Agent | undefined,
  port: number,
  method: string,
  path: string,
  body?: string,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: HOST,
        port,
        method,
        path,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** One call through the Restate ingress: POST /<service>/<handler> with a JSON number. */
async function invoke(agent: Agent, path: string, x: number): Promise<number> {
  const r = await http(agent, INGRESS_PORT, "POST", path, JSON.stringify(x));
  if (r.status !== 200) throw new Error(`POST ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return Number(r.body);
}

function checked(agent: Agent, path: string, expect: (x: number) => number) {
  return async (x: number): Promise<void> => {
    const y = await invoke(agent, path, x);
    if (y !== expect(x)) throw new Error(`POST ${path} ${x}: got ${y}, want ${expect(x)}`);
  };
}

/** redis-server with an append-only file fsynced every second, as a durable deployment runs it. */
async function startRedis(): Promise<void> {
  const redis = track(
    spawn(
      "redis-server",
      [
        "--port",
        String(REDIS_PORT),
        "--bind",
        HOST,
        "--dir",
        tmp as string,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--protected-mode",
        "no",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    ),
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    redis.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) resolve();
    });
    redis.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    redis.once("error", reject);
  });
}

/**
 * Two `stratus up --no-fuse --executors 2`: on memory, and on the durable Redis; with
 * `--exactly-once`, a third on the same Redis with chains fused (the default).
 */
async function startStratus(): Promise<{
  memory: Stratus;
  redis: Stratus;
  fused?: Stratus;
  close(): Promise<void>;
}> {
  log("starting redis-server (appendfsync everysec) and two stratus up --no-fuse");
  await startRedis();
  const flags = ["--executors", "2", "--no-fuse"];
  const onRedis = ["--store", `redis://${HOST}:${REDIS_PORT}`];
  const ups = await Promise.all([
    stratusUp(flags),
    stratusUp([...flags, ...onRedis]),
    // Under a key prefix of its own: two clusters committing to the same keys would each learn
    // (and fetch) the other's commits, load a real cluster never carries.
    ...(exactlyOnce
      ? [stratusUp(["--executors", "2", "--store", `redis://${HOST}:${REDIS_PORT}?prefix=eo:`])]
      : []),
  ]);
  for (const u of ups) children.push(u.proc);
  const clouds = await Promise.all(ups.map((u) => Stratus.connect(u.url, { token: u.token })));
  for (const c of clouds) {
    await c.register("inc", async (_ctx, x: number) => x + 1);
    await c.register("square", (_ctx, x: number) => x * x);
    await c.registerDag("pipeline", { functions: ["inc", "square"], edges: [["inc", "square"]] });
    if (exactlyOnce) await registerWritingDag(c);
  }
  const [memory, redis, fused] = clouds as [Stratus, Stratus, Stratus | undefined];
  return {
    memory,
    redis,
    ...(fused && { fused }),
    close: async () => {
      await Promise.all(clouds.map((c) => c.close()));
    },
  };
}

/**
 * A DAG run exactly-once on `c` (read-atomic: a retried request commits once, and returns what
 * the first commit recorded): `pipeline` is Restate's chain's work, inc then square; `eo` also
 * writes a key in each function.
 */
function exactlyOnceDag(c: Stratus, dag: "pipeline" | "eo"): (x: number) => Promise<void> {
  const inputs = dag === "pipeline" ? (x: number) => ({ inc: [x] }) : (x: number) => ({ eo1: [x] });
  const want = dag === "pipeline" ? (x: number) => (x + 1) ** 2 : (x: number) => (x + 1) * 2;
  return async (x) => {
    const y = await c.callDag<number>(dag, inputs(x), { consistency: "read-atomic" });
    if (y !== want(x)) throw new Error(`Stratus exactly-once ${dag} ${x}: got ${y}`);
  };
}

async function main(): Promise<Record<string, number>> {
  const serverLog = join(tmp as string, "restate-server.log");
  const fd = openSync(serverLog, "a");
  log(`starting restate-server (base dir ${tmp}/restate)`);
  const server = spawn(
    serverBin as string,
    [
      "--no-logo",
      "--listen-mode",
      "tcp",
      "--bind-ip",
      HOST,
      "--node-name",
      "bench",
      "--base-dir",
      join(tmp as string, "restate"),
      "--log-disable-ansi-codes",
      "true",
    ],
    {
      cwd: tmp,
      stdio: ["ignore", fd, fd],
      env: {
        ...process.env,
        RESTATE_BIND_PORT: String(NODE_PORT),
        RESTATE_ADMIN__BIND_PORT: String(ADMIN_PORT),
        RESTATE_INGRESS__BIND_PORT: String(INGRESS_PORT),
        RESTATE_DISABLE_TELEMETRY: "true",
      },
    },
  );
  closeSync(fd);
  track(server);
  try {
    return await measure(server);
  } catch (err) {
    let tail = "";
    try {
      tail = readFileSync(serverLog, "utf8").slice(-3000);
    } catch {
      // no log yet
    }
    if (tail) log(`--- restate-server log (tail) ---\n${tail}\n---`);
    throw err;
  }
}

async function measure(server: ChildProcess): Promise<Record<string, number>> {
  log("starting the SDK endpoint");
  const endpoint = spawn(
    process.execPath,
    [join(import.meta.dirname, "endpoint.mjs"), scratch as string, String(ENDPOINT_PORT)],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RESTATE_LOGGING: "ERROR" } },
  );
  track(endpoint);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const t = setTimeout(
      () =>
        reject(new Error(`the SDK endpoint did not listen within ${STARTUP_TIMEOUT_MS / 1000} s`)),
      STARTUP_TIMEOUT_MS,
    );
    endpoint.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("listening on")) {
        clearTimeout(t);
        resolve();
      }
    });
    endpoint.once("exit", (code, sig) => {
      clearTimeout(t);
      reject(new Error(`the SDK endpoint exited (${code ?? sig}) before it was listening`));
    });
    endpoint.once("error", (err) => {
      clearTimeout(t);
      reject(new Error(`cannot start the SDK endpoint: ${err.message}`));
    });
  });

  await until("restate-server's admin and ingress", STARTUP_TIMEOUT_MS, async () => {
    alive(server, "restate-server");
    const a = await http(undefined, ADMIN_PORT, "GET", "/health");
    const i = await http(undefined, INGRESS_PORT, "GET", "/restate/health");
    return a.status === 200 && i.status === 200 ? true : undefined;
  });

  log(`registering the deployment http://${HOST}:${ENDPOINT_PORT}`);
  const reg = await http(
    undefined,
    ADMIN_PORT,
    "POST",
    "/deployments",
    JSON.stringify({ uri: `http://${HOST}:${ENDPOINT_PORT}` }),
  );
  if (reg.status !== 200 && reg.status !== 201) {
    throw new Error(`POST /deployments: HTTP ${reg.status} ${reg.body.slice(0, 500)}`);
  }

  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const inc = checked(agent, "/math/inc", (x) => x + 1);
    const pair = checked(agent, "/pair/run", (x) => (x + 1) * (x + 1));
    await until("the services to be callable through the ingress", STARTUP_TIMEOUT_MS, async () => {
      alive(server, "restate-server");
      alive(endpoint, "the SDK endpoint");
      await inc(3);
      await pair(3);
      return true;
    });

    const stratus = await startStratus();
    try {
      const dag = (c: Stratus) => async (x: number) => {
        const y = await c.callDag<number>("pipeline", { inc: [x] });
        if (y !== (x + 1) * (x + 1)) throw new Error(`Stratus pipeline ${x}: got ${y}`);
      };
      const ops: Record<string, (x: number) => Promise<unknown>> = {
        restate_call: inc,
        restate: pair,
        stratus: dag(stratus.memory),
        stratus_redis: dag(stratus.redis),
      };
      if (stratus.fused !== undefined) {
        ops.stratus_eo = exactlyOnceDag(stratus.fused, "pipeline");
        ops.stratus_eo_unfused = exactlyOnceDag(stratus.redis, "pipeline");
        ops.stratus_eo_writes = exactlyOnceDag(stratus.fused, "eo");
      }
      const n = quick ? 500 : 2000;
      log(`${n} sequential runs of each, interleaved in blocks of 100`);
      await warmUp(ops, quick ? 1000 : 2000);
      const lat = await interleaved(ops, n, 100, 0);
      const m: Record<string, number> = {};
      const { restate_call: call, ...dags } = lat;
      m.restate_call_p50_ms = call?.p50 ?? NaN;
      for (const [k, v] of Object.entries(dags)) {
        m[`${k}_dag_p50_ms`] = v.p50;
        m[`${k}_dag_p99_ms`] = v.p99;
      }
      const rb = lat.restate?.blocks ?? [];
      putRatio(m, "restate_vs_stratus_p50", blockRatio(rb, lat.stratus_redis?.blocks ?? []));
      putRatio(m, "restate_vs_stratus_memory_p50", blockRatio(rb, lat.stratus?.blocks ?? []));
      const eo = {
        "": lat.stratus_eo,
        _unfused: lat.stratus_eo_unfused,
        _writes: lat.stratus_eo_writes,
      };
      for (const [suffix, side] of Object.entries(eo)) {
        if (side === undefined) continue;
        putRatio(m, `restate_vs_exactly_once${suffix}_p50`, blockRatio(rb, side.blocks));
      }
      const blocks = quick ? 3 : 4;
      const blockMs = quick ? 1500 : 3000;
      log(`64 runs in flight, alternating ${blocks}x${blockMs} ms blocks`);
      const runs = Object.fromEntries(
        Object.entries(ops).filter(([k]) => k !== "restate_call" && !k.startsWith("stratus_eo")),
      );
      const rps = await alternatingBlocks(runs, 64, blockMs, blocks);
      for (const [k, v] of Object.entries(rps)) {
        m[`${k}_dag_throughput_rps`] = Math.round(v.reduce((a, b) => a + b, 0) / v.length);
      }
      const rr = rps.restate ?? [];
      putRatio(m, "restate_vs_stratus_rps", blockRatio(rps.stratus_redis ?? [], rr));
      putRatio(m, "restate_vs_stratus_memory_rps", blockRatio(rps.stratus ?? [], rr));
      alive(server, "restate-server");
      return m;
    } finally {
      await stratus.close();
    }
  } finally {
    agent.destroy();
  }
}

let code = 0;
try {
  const metrics = await main();
  process.stdout.write(`PEERS_RESULT ${JSON.stringify(metrics)}\n`);
} catch (err) {
  log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
}
await stopChildren();
process.exit(code);

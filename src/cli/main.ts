#!/usr/bin/env node
/**
 * The `stratus` command. The only place that reads the environment (STRATUS_URL, STRATUS_TOKEN,
 * STRATUS_HOME); everything below it takes options.
 */
import { Command, Option } from "commander";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { Stratus } from "../client/index.js";
import { StratusProcess, serveMetrics } from "../cluster/index.js";
import type { ProcessOptions } from "../cluster/index.js";
import { isStratusError } from "../errors/index.js";
import { connect } from "../wire/index.js";
import { parseJson, resolveTarget, saveCluster } from "./config.js";
import { deploy } from "./deploy.js";
import { registerDemo } from "./demo.js";

const log = pino({ name: "stratus" }, pino.destination(2));

const program = new Command()
  .name("stratus")
  .description("Stateful serverless functions with a cache next to every executor.")
  .showHelpAfterError();

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${v} is not a non-negative integer`);
  return n;
};

const target = (c: Command): Command =>
  c
    .option("--url <url>", "cluster address (default: STRATUS_URL or the one `stratus up` saved)")
    .option("--token <token>", "cluster token (default: STRATUS_TOKEN or the saved one)");

function listen(c: Command): Command {
  return c
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", int, 0)
    .option(
      "--advertise <url>",
      "address others reach this process at (default: stratus://host:port)",
    )
    .option("--id <id>", "process id (default: random)")
    .option("--metrics-port <port>", "serve Prometheus metrics at http://host:port/metrics", int);
}

/** Keeps a process up until Ctrl-C or SIGTERM, then closes it; serves metrics if asked. */
async function stayUp(proc: StratusProcess, o: Record<string, unknown>): Promise<void> {
  if (typeof o.metricsPort === "number") {
    await serveMetrics(proc, o.metricsPort, o.host as string);
    log.info({ port: o.metricsPort }, "metrics at /metrics");
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    proc.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

function processOptions(o: Record<string, unknown>): Omit<ProcessOptions, "token"> {
  const out: Omit<ProcessOptions, "token"> = { host: o.host as string, port: o.port as number };
  if (typeof o.advertise === "string") out.advertise = o.advertise;
  if (typeof o.id === "string") out.id = o.id;
  if (typeof o.maxRetries === "number") out.maxRetries = o.maxRetries;
  const pool: NonNullable<ProcessOptions["pool"]> = {};
  if (typeof o.timeoutMs === "number") pool.defaultTimeoutMs = o.timeoutMs;
  if (typeof o.maxTimeoutMs === "number") pool.maxTimeoutMs = o.maxTimeoutMs;
  if (typeof o.memoryMb === "number") pool.resourceLimits = { maxOldGenerationSizeMb: o.memoryMb };
  out.pool = pool;
  return out;
}

/** Limits of the functions a node runs, and how often a lost node's calls are retried. */
function limits(c: Command): Command {
  return c
    .option("--timeout-ms <ms>", "default time limit of one function invocation", int, 60_000)
    .option("--memory-mb <mb>", "heap limit of each executor worker", int, 512)
    .option("--max-retries <n>", "retries of a call whose node was lost", int, 2);
}

listen(
  limits(program.command("up"))
    .description(
      "run an all-in-one cluster: storage, scheduler and a node; prints its address and token",
    )
    .option(
      "--store <address>",
      "memory:, memory:/path/to/log, redis://host:port or redis-cluster://h:p,h:p",
      "memory:",
    )
    .option("--executors <n>", "executor threads", int, 4)
    .option(
      "--max-timeout-ms <ms>",
      "cap on any function's time limit, its own timeoutMs included",
      int,
      900_000,
    )
    .option("--token <token>", "cluster token (default: random)")
    .addOption(
      new Option("--placement <policy>", "placement policy")
        .choices(["locality", "spread"])
        .default("locality"),
    )
    .option("--demo", "register the demo functions inc, square and DAG pipeline"),
).action(async (o: Record<string, unknown>) => {
  const token = (o.token as string | undefined) ?? randomBytes(16).toString("hex");
  const proc = await StratusProcess.start({
    ...processOptions(o),
    token,
    store: o.store as string,
    executors: o.executors as number,
    placement: o.placement as "locality" | "spread",
  });
  saveCluster(proc.url, token);
  if (o.demo === true) {
    const cloud = await Stratus.connect(proc.url, { token });
    await registerDemo(cloud);
    await cloud.close();
  }
  process.stdout.write(
    `Stratus is up at ${proc.url}\n  token: ${token}\n  store: ${String(o.store)}\n`,
  );
  process.stdout.write(
    `Try (another terminal):  npm run stratus -- call inc '[1]'  |  npm run stratus -- dag pipeline '{"inc":[1]}'  |  npm run stratus -- status\n`,
  );
  log.info({ url: proc.url, id: proc.id, executors: o.executors }, "up");
  await stayUp(proc, o);
});

listen(
  limits(
    target(
      program.command("node").description("run a node (cache + executors) that joins a cluster"),
    ),
  )
    .requiredOption("--join <url>", "address of a scheduler of the cluster")
    .option("--executors <n>", "executor threads", int, 4)
    .option(
      "--max-timeout-ms <ms>",
      "cap on any function's time limit, its own timeoutMs included",
      int,
      900_000,
    )
    .option("--store <address>", "storage address (default: the one the cluster uses)"),
).action(async (o: Record<string, unknown>) => {
  const { token } = resolveTarget({ url: o.join as string, token: o.token as string | undefined });
  let store = o.store as string | undefined;
  if (store === undefined) {
    const conn = await connect(o.join as string, { token, role: "node", id: "joining" });
    const info = await conn.request<{ store: string | null }>("cluster.info", {});
    await conn.close();
    store = info.store ?? undefined;
    if (store === undefined || store.startsWith("memory:")) {
      throw new Error(
        `the cluster at ${String(o.join)} keeps its state in process memory; nodes on other processes need shared storage: start it with --store redis://... (or pass --store here)`,
      );
    }
  }
  const proc = await StratusProcess.start({
    ...processOptions(o),
    token,
    store,
    scheduler: false,
    executors: o.executors as number,
  });
  process.stdout.write(`node ${proc.id} joined at ${proc.url}\n`);
  log.info({ url: proc.url, id: proc.id }, "node up");
  await stayUp(proc, o);
});

listen(
  limits(program.command("scheduler"))
    .description("run a stateless scheduler over the cluster's storage")
    .requiredOption("--store <address>", "redis://host:port or redis-cluster://h:p,h:p")
    .requiredOption("--token <token>", "cluster token")
    .addOption(
      new Option("--placement <policy>", "placement policy")
        .choices(["locality", "spread"])
        .default("locality"),
    ),
).action(async (o: Record<string, unknown>) => {
  const proc = await StratusProcess.start({
    ...processOptions(o),
    token: o.token as string,
    store: o.store as string,
    executors: 0,
    placement: o.placement as "locality" | "spread",
  });
  process.stdout.write(`scheduler ${proc.id} at ${proc.url}\n`);
  log.info({ url: proc.url, id: proc.id }, "scheduler up");
  await stayUp(proc, o);
});

async function withCloud<T>(
  o: Record<string, unknown>,
  fn: (c: Stratus) => Promise<T>,
): Promise<T> {
  const { url, token } = resolveTarget(o);
  const cloud = await Stratus.connect(url, { token });
  try {
    return await fn(cloud);
  } finally {
    await cloud.close();
  }
}

const print = (v: unknown): void => void process.stdout.write(JSON.stringify(v, null, 2) + "\n");

target(
  program
    .command("deploy <file>")
    .description("bundle a module with esbuild and register its exported functions (and `dags`)"),
).action(async (file: string, o: Record<string, unknown>) =>
  print(await withCloud(o, (c) => deploy(c, file))),
);

target(
  program.command("call <fn> [args]").description("call a function with a JSON array of arguments"),
).action(async (fn: string, args: string | undefined, o: Record<string, unknown>) => {
  const list = args === undefined ? [] : parseJson(args, "args");
  print(await withCloud(o, (c) => c.call(fn, Array.isArray(list) ? list : [list])));
});

target(
  program.command("dag <name> [inputs]").description('run a DAG; inputs is JSON like {"inc": [1]}'),
).action(async (name: string, inputs: string | undefined, o: Record<string, unknown>) => {
  const parsed = (inputs === undefined ? {} : parseJson(inputs, "inputs")) as Record<
    string,
    unknown[]
  >;
  print(await withCloud(o, (c) => c.callDag(name, parsed)));
});

target(program.command("status").description("nodes, executors, load, functions and DAGs")).action(
  async (o: Record<string, unknown>) => print(await withCloud(o, (c) => c.status())),
);

program.parseAsync().catch((e: unknown) => {
  const msg = isStratusError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
  process.stderr.write(`stratus: ${msg}\n`);
  process.exit(1);
});

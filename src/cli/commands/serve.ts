/**
 * The commands that run a process and keep it up: `up` (all in one), `node` (joins a cluster)
 * and `scheduler` (stateless, over the cluster's storage).
 */
import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Stratus } from "../../client/index.js";
import {
  PROCESS_DEFAULTS,
  StratusProcess,
  peerTlsOptions,
  serveMetrics,
  withoutStorePassword,
} from "../../cluster/index.js";
import { InvalidArgumentError, isStratusError } from "../../errors/index.js";
import { connect } from "../../wire/index.js";
import { request } from "../../protocol/index.js";
import { resolveTarget, saveCluster } from "../config.js";
import { registerDemo } from "../demo.js";
import { nextSteps } from "../hints.js";
import {
  autoscale,
  executors,
  httpPort,
  limits,
  listen,
  placement,
  storePasswordFile,
  target,
  tokenFile,
  withFlags,
} from "../flags.js";
import type {
  AutoscaleFlags,
  ExecutorFlags,
  HttpFlags,
  LimitFlags,
  ListenFlags,
  PlacementFlags,
  StorePasswordFlags,
  TargetFlags,
  TokenFileFlags,
} from "../flags.js";
import type { CliOutput } from "../log.js";
import { monitorOptions, processOptions, processToken, storeAddress } from "../process-flags.js";
import { givenStorePassword } from "../secrets.js";

type UpFlags = ListenFlags &
  TokenFileFlags &
  StorePasswordFlags &
  ExecutorFlags &
  LimitFlags &
  HttpFlags &
  AutoscaleFlags &
  PlacementFlags & { store: string; token?: string; demo?: true };

type NodeFlags = ListenFlags &
  StorePasswordFlags &
  LimitFlags &
  TargetFlags &
  ExecutorFlags & { join?: string; store?: string };

type SchedulerFlags = ListenFlags &
  TokenFileFlags &
  StorePasswordFlags &
  LimitFlags &
  HttpFlags &
  AutoscaleFlags &
  PlacementFlags & { store?: string; token?: string };

/** Registers `up`, `node` and `scheduler` on `program`. */
export function serveCommands(program: Command, out: CliOutput): void {
  withFlags(
    program.command("up"),
    autoscale,
    httpPort,
    limits,
    executors,
    storePasswordFile,
    tokenFile,
    (c) =>
      c
        .description(
          "run an all-in-one cluster: storage, scheduler and a node; prints its address and token",
        )
        .option(
          "--store <address>",
          "memory:, memory:/path/to/log, redis://host:port or redis-cluster://h:p,h:p",
          PROCESS_DEFAULTS.store,
        )
        .option("--token <token>", "cluster token (default: STRATUS_TOKEN, else random)"),
    placement,
    (c) => c.option("--demo", "register the demo functions inc, square and DAG pipeline"),
    listen,
  ).action((o: UpFlags) => up(o, out));

  withFlags(
    program.command("node").description("run a node (cache + executors) that joins a cluster"),
    executors,
    target,
    limits,
    storePasswordFile,
    (c) =>
      c
        .option("--join <url>", "address of a scheduler of the cluster (required)")
        .option("--store <address>", "storage address (default: the one the cluster uses)"),
    listen,
  ).action((o: NodeFlags) => node(o, out));

  withFlags(
    program.command("scheduler"),
    autoscale,
    httpPort,
    limits,
    storePasswordFile,
    tokenFile,
    (c) =>
      c
        .description("run a stateless scheduler over the cluster's storage")
        .option("--store <address>", "redis://host:port or redis-cluster://h:p,h:p (required)")
        .option("--token <token>", "cluster token (or --token-file, or STRATUS_TOKEN)"),
    placement,
    listen,
  ).action((o: SchedulerFlags) => scheduler(o, out));
}

async function up(o: UpFlags, out: CliOutput): Promise<void> {
  const given = processToken(o, out);
  const token = given?.token ?? randomBytes(16).toString("hex");
  const started: { proc?: StratusProcess } = {};
  const monitor = monitorOptions(o, token, () => started.proc, out);
  const proc = await StratusProcess.start({
    ...processOptions(o, out),
    token,
    store: storeAddress(o.store, o, out),
    executors: o.executors,
    placement: o.placement,
    ...(monitor && { monitor }),
  });
  started.proc = proc;
  saveCluster(proc.url, token);
  if (o.demo === true) {
    const cloud = await Stratus.connect(proc.url, { token });
    await registerDemo(cloud);
    await cloud.close();
  }
  // A token the user gave stays where they put it; only a token made here is shown.
  const shownToken = given === undefined ? token : `(from ${given.source})`;
  const shownStore = withoutStorePassword(o.store).address;
  process.stdout.write(
    `Stratus is up at ${proc.url}\n  token: ${shownToken}\n  store: ${shownStore}\n`,
  );
  printHttp(proc);
  // From the sources this is a checkout of the repository, where `npx stratus` is not linked.
  const cmd = import.meta.url.endsWith(".ts") ? "npm run stratus --" : "npx stratus";
  process.stdout.write(nextSteps(cmd, o.demo === true));
  out.log.info({ url: proc.url, id: proc.id, executors: o.executors }, "up");
  await stayUp(proc, o, out, token);
}

async function node(o: NodeFlags, out: CliOutput): Promise<void> {
  const join = required(o.join, "join", "--join <url>");
  const { token } = resolveTarget({ ...o, url: join });
  out.redactor.add(token);
  const options = processOptions(o, out);
  let store = o.store;
  if (store === undefined) {
    // The scheduler is checked as every peer is: against --tls-ca, else this node's certificate.
    const tls = peerTlsOptions(options.tls);
    const conn = await connect(join, {
      token,
      role: "node",
      id: "joining",
      ...(tls && { tls }),
    }).catch((e: unknown) => {
      throw joinError(join, e);
    });
    const info = await request(conn, "cluster.info", {});
    await conn.close();
    store = info.store ?? undefined;
    if (store === undefined || store.startsWith("memory:")) {
      throw new Error(
        `the cluster at ${join} keeps its state in process memory; nodes on other processes need shared storage: start it with --store redis://... (or pass --store here)`,
      );
    }
    // The cluster never hands out its store's password (see cluster.info): a node brings it.
    if (info.storeNeedsPassword === true && givenStorePassword(o, process.env) === undefined) {
      throw new InvalidArgumentError(
        `the store of the cluster at ${join} needs a password: give it with --store-password-file <path> or STRATUS_STORE_PASSWORD`,
      );
    }
  }
  const proc = await StratusProcess.start({
    ...options,
    token,
    store: storeAddress(store, o, out),
    scheduler: false,
    executors: o.executors,
  });
  process.stdout.write(`node ${proc.id} joined at ${proc.url}\n`);
  out.log.info({ url: proc.url, id: proc.id }, "node up");
  await stayUp(proc, o, out, token);
}

async function scheduler(o: SchedulerFlags, out: CliOutput): Promise<void> {
  const store = required(o.store, "store", "--store <address>");
  const given = processToken(o, out);
  if (given === undefined) {
    throw new InvalidArgumentError(
      "a scheduler needs the cluster token: --token, --token-file <path> or STRATUS_TOKEN",
    );
  }
  const started: { proc?: StratusProcess } = {};
  const monitor = monitorOptions(o, given.token, () => started.proc, out);
  const proc = await StratusProcess.start({
    ...processOptions(o, out),
    token: given.token,
    store: storeAddress(store, o, out),
    executors: 0,
    placement: o.placement,
    ...(monitor && { monitor }),
  });
  started.proc = proc;
  process.stdout.write(`scheduler ${proc.id} at ${proc.url}\n`);
  printHttp(proc);
  out.log.info({ url: proc.url, id: proc.id }, "scheduler up");
  await stayUp(proc, o, out, given.token);
}

/** The HTTP ingress and dashboard addresses of a scheduler, when it serves them. */
function printHttp(proc: StratusProcess): void {
  if (proc.httpUrl !== undefined) process.stdout.write(`  http: ${proc.httpUrl}\n`);
  if (proc.dashboardUrl !== undefined) {
    process.stdout.write(`  dashboard: ${proc.dashboardUrl}\n`);
  }
}

/**
 * How long a stopping process may take in all before it exits anyway: its storage goodbyes are
 * bounded at 2 s (`closeTimeoutMs`), and the rest (workers, sockets) is local.
 */
const STOP_BACKSTOP_MS = 10_000;

/**
 * Keeps a process up until Ctrl-C or SIGTERM, then closes it; serves metrics if asked, to
 * holders of the token, over HTTPS when the process has a certificate.
 */
async function stayUp(
  proc: StratusProcess,
  o: ListenFlags,
  out: CliOutput,
  token: string,
): Promise<void> {
  const { log } = out;
  if (typeof o.metricsPort === "number") {
    const tls =
      typeof o.tlsCert === "string" && typeof o.tlsKey === "string"
        ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) }
        : undefined;
    await serveMetrics(proc, { port: o.metricsPort, host: o.host, token, ...(tls && { tls }) });
    log.info({ port: o.metricsPort }, "metrics at /metrics (bearer token), liveness at /healthz");
  }
  let stopping = false;
  const stop = (signal: string): void => {
    // A second signal means now: the operator has seen the first one not finish.
    if (stopping) {
      log.warn({ signal }, "stopping at once");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "stopping");
    // Close is bounded step by step; this is the backstop should a step still hang.
    setTimeout(() => {
      log.error({ afterMs: STOP_BACKSTOP_MS }, "did not stop in time; exiting");
      process.exit(1);
    }, STOP_BACKSTOP_MS).unref();
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

/** Why a join failed, with what to do about a certificate that did not verify. */
function joinError(join: string, e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = isStratusError(err) ? err.details?.code : undefined;
  const certificate =
    typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
  if (!certificate) return err;
  err.message += ` (the certificate of ${join} did not verify: give the CA it chains to with --tls-ca, or --tls-cert when it is self-signed)`;
  return err;
}

/** An option these commands need, given by flag or config file (commander cannot see the file). */
function required(v: unknown, key: string, flag: string): string {
  if (typeof v !== "string") {
    throw new InvalidArgumentError(`${flag} is required (or ${key}: in the --config file)`);
  }
  return v;
}

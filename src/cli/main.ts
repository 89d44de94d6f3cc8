#!/usr/bin/env node
/**
 * The `stratus` command. The only place that reads the environment (STRATUS_URL, STRATUS_TOKEN,
 * STRATUS_STORE_PASSWORD, STRATUS_HOME); everything below it takes options.
 */
import { Command, Option } from "commander";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { Stratus } from "../client/index.js";
import type { CallOptions } from "../client/index.js";
import {
  StratusProcess,
  peerTlsOptions,
  serveMetrics,
  withStorePassword,
  withoutStorePassword,
} from "../cluster/index.js";
import type { ProcessOptions } from "../cluster/index.js";
import { InvalidArgumentError, isStratusError } from "../errors/index.js";
import { KubernetesNodeProvider, LocalNodeProvider } from "../monitor/index.js";
import type { MonitorOptions, NodeProvider } from "../monitor/index.js";
import type { ClusterStats } from "../stats/index.js";
import { connect } from "../wire/index.js";
import type { TlsClientOptions } from "../wire/index.js";
import { parseJson, resolveTarget, saveCluster } from "./config.js";
import { CONFIG_COMMANDS, applyConfigFile } from "./config-file.js";
import { deploy } from "./deploy.js";
import { registerDemo } from "./demo.js";
import { TXN_DEFAULTS } from "../txn/index.js";
import { formatStatus } from "./status.js";
import { Redactor, givenStorePassword, givenToken } from "./secrets.js";

// Every secret the CLI is given is added here, and nothing it prints on stderr carries one.
const redactor = new Redactor();
const log = pino(
  { name: "stratus" },
  { write: (line: string) => void process.stderr.write(redactor.scrub(line)) },
);

// A throw or rejection that escaped a handler costs that message, not the process and every run
// in it: log it and keep serving.
process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
process.on("uncaughtException", (err) => log.error({ err }, "uncaught exception"));

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
    .option("--token <token>", "cluster token (default: STRATUS_TOKEN or the saved one)")
    .option("--token-file <path>", "read the cluster token from a file (keeps it out of `ps`)");

/** A command that talks to a cluster as a client: where it is, the token, and whom to trust. */
const client = (c: Command): Command =>
  target(c).option(
    "--tls-ca <file>",
    "trust this PEM certificate (the cluster's CA, or its self-signed certificate) for stratuss://",
  );

/** What a client command trusts for `stratuss://`: `--tls-ca`, else the system's CAs. */
function clientTls(o: Record<string, unknown>): TlsClientOptions | undefined {
  if (typeof o.tlsCa !== "string") return undefined;
  try {
    return { ca: readFileSync(o.tlsCa) };
  } catch (e) {
    throw InvalidArgumentError.field("--tls-ca", `cannot read ${o.tlsCa}: ${(e as Error).message}`);
  }
}

/** `--token-file` for the commands that start processes (they have their own `--token`). */
const tokenFile = (c: Command): Command =>
  c.option("--token-file <path>", "read the cluster token from a file (keeps it out of `ps`)");

/** The token a process was given (flag, file or STRATUS_TOKEN), its secrets noted for redaction. */
function processToken(o: Record<string, unknown>): ReturnType<typeof givenToken> {
  const given = givenToken(o, process.env);
  redactor.add(given?.token);
  return given;
}

const storePasswordFile = (c: Command): Command =>
  c.option(
    "--store-password-file <path>",
    "read the store's password from a file (default: STRATUS_STORE_PASSWORD); keeps it out of `ps`",
  );

/**
 * The store address a process opens: the one given, with the password from
 * `--store-password-file` or STRATUS_STORE_PASSWORD put in when there is one.
 */
function storeAddress(address: string, o: Record<string, unknown>): string {
  const password = givenStorePassword(o, process.env);
  redactor.add(password);
  redactor.add(withoutStorePassword(address).password);
  return password === undefined ? address : withStorePassword(address, password);
}

function listen(c: Command): Command {
  return c
    .option(
      "--config <file>",
      "read options from a YAML or JSON file (flags on the command line win)",
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", int, 0)
    .option(
      "--advertise <url>",
      "address others reach this process at (default: stratus://host:port)",
    )
    .option("--id <id>", "process id (default: random)")
    .option(
      "--metrics-port <port>",
      "serve Prometheus metrics at http(s)://host:port/metrics (the token as a bearer token)",
      int,
    )
    .option(
      "--max-connections <n>",
      "most connections the wire listener keeps open (default: from the descriptor limit)",
      int,
    )
    .option(
      "--max-connections-per-address <n>",
      "most connections one remote address may hold on each listener (default: a quarter of its cap)",
      int,
    )
    .option(
      "--future-retention-ms <ms>",
      "how long futures' results stay readable in storage",
      int,
      3_600_000,
    )
    .addOption(
      new Option("--clock-offset-ms <ms>", "test only: shift this process's wall clock")
        .argParser(Number)
        .hideHelp(),
    )
    .addOption(
      new Option(
        "--lag-invalidations-ms <ms>",
        "test only: this node's cache applies invalidations this late (serves stale values)",
      )
        .argParser(Number)
        .hideHelp(),
    )
    .option("--tls-cert <file>", "serve TLS (stratuss://) with this PEM certificate")
    .option("--tls-key <file>", "the PEM key of --tls-cert")
    .option("--tls-ca <file>", "CA that peers' certificates chain to (default: --tls-cert)");
}

/** The HTTP ingress of a scheduler (`up`, `scheduler`); nodes have none. */
function httpPort(c: Command): Command {
  return c
    .option(
      "--http-port <port>",
      "serve the HTTP ingress (JSON; token as bearer) and the dashboard (/dashboard) on this port of --host (0 = any free port)",
      int,
    )
    .option(
      "--max-http-connections <n>",
      "most connections the HTTP ingress keeps open (default: from the descriptor limit)",
      int,
    )
    .option("--no-dashboard", "do not serve the web dashboard on the HTTP port");
}

/** The token travels in the hello: past loopback it must not go in the clear. */
function warnIfPlain(o: Record<string, unknown>): void {
  const host = String(o.host);
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  if (!loopback && o.tlsCert === undefined) {
    log.warn(
      { host },
      "listening on a non-loopback address without TLS: the cluster token and all traffic cross the network in the clear; use --tls-cert and --tls-key",
    );
  }
}

/**
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
  o: Record<string, unknown>,
  token: string,
): Promise<void> {
  if (typeof o.metricsPort === "number") {
    const tls =
      typeof o.tlsCert === "string" && typeof o.tlsKey === "string"
        ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) }
        : undefined;
    await serveMetrics(proc, {
      port: o.metricsPort,
      host: o.host as string,
      token,
      ...(tls && { tls }),
    });
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

function processOptions(o: Record<string, unknown>): Omit<ProcessOptions, "token"> {
  const out: Omit<ProcessOptions, "token"> = { host: o.host as string, port: o.port as number };
  if (typeof o.advertise === "string") out.advertise = o.advertise;
  if (typeof o.id === "string") out.id = o.id;
  if (typeof o.tlsCert === "string" || typeof o.tlsKey === "string") {
    if (typeof o.tlsCert !== "string" || typeof o.tlsKey !== "string") {
      throw new Error("--tls-cert and --tls-key go together");
    }
    out.tls = { certFile: o.tlsCert, keyFile: o.tlsKey };
    if (typeof o.tlsCa === "string") out.tls.caFile = o.tlsCa;
  } else if (typeof o.tlsCa === "string") {
    // A CA alone would be silently ignored: this process would neither serve TLS nor use it.
    throw new Error("--tls-ca goes with --tls-cert and --tls-key");
  }
  warnIfPlain(o);
  if (typeof o.maxRetries === "number") out.maxRetries = o.maxRetries;
  if (typeof o.maxTxnMs === "number") out.txn = { maxTxnMs: o.maxTxnMs };
  if (typeof o.clockOffsetMs === "number") out.clockOffsetMs = o.clockOffsetMs;
  if (typeof o.lagInvalidationsMs === "number") out.lagInvalidationsMs = o.lagInvalidationsMs;
  if (typeof o.futureRetentionMs === "number") out.futureRetentionMs = o.futureRetentionMs;
  if (typeof o.httpPort === "number") out.httpPort = o.httpPort;
  if (typeof o.maxConnections === "number") out.maxConnections = o.maxConnections;
  if (typeof o.maxHttpConnections === "number") out.maxHttpConnections = o.maxHttpConnections;
  if (typeof o.maxConnectionsPerAddress === "number") {
    out.maxConnectionsPerAddress = o.maxConnectionsPerAddress;
  }
  if (o.dashboard === false) out.dashboard = false;
  if (o.fuse === false) out.fuse = false;
  if (Array.isArray(o.pin)) out.pin = pins(o.pin as string[]);
  const pool: NonNullable<ProcessOptions["pool"]> = {};
  if (typeof o.timeoutMs === "number") pool.defaultTimeoutMs = o.timeoutMs;
  if (typeof o.maxTimeoutMs === "number") pool.maxTimeoutMs = o.maxTimeoutMs;
  if (typeof o.memoryMb === "number") pool.resourceLimits = { maxOldGenerationSizeMb: o.memoryMb };
  out.pool = pool;
  return out;
}

/** `--pin fn=node` pairs; a malformed one stops the command with the pair named. */
function pins(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0 || eq === p.length - 1) throw new Error(`--pin ${p}: expected function=node-id`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

const ratio = (v: string): number => {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new Error(`${v} is not a number in (0, 1]`);
  return n;
};

/** The autoscaler of a scheduler (`up`, `scheduler`): off unless --autoscale. */
function autoscale(c: Command): Command {
  return c
    .option(
      "--autoscale",
      "run the autoscaler (one scheduler acts at a time, by a lease in the store)",
    )
    .option("--min-executors <n>", "fewest executors per node", int, 1)
    .option("--max-executors <n>", "most executors per node", int, 32)
    .option(
      "--scale-up-utilisation <r>",
      "grow a node busier than this share of its executors",
      ratio,
      0.8,
    )
    .option(
      "--scale-up-queue-ms <ms>",
      "grow a node whose median queueing delay passes this",
      int,
      20,
    )
    .option(
      "--idle-grace-ms <ms>",
      "remove executors once fewer sufficed for this long",
      int,
      10_000,
    )
    .addOption(
      new Option(
        "--node-provider <provider>",
        "add and remove whole nodes with this provider",
      ).choices(["local", "kubernetes"]),
    )
    .option("--min-nodes <n>", "fewest nodes the provider keeps", int, 0)
    .option("--max-nodes <n>", "most nodes the provider runs", int, 4)
    .option("--node-executors <n>", "executors of each node the local provider starts", int)
    .option(
      "--k8s-deployment <name>",
      "kubernetes provider: the Deployment of nodes",
      "stratus-node",
    )
    .option("--k8s-namespace <ns>", "kubernetes provider: its namespace", "default");
}

/**
 * Monitor options from the flags; the local provider's nodes run this same CLI with the cluster
 * token (and store password) in their environment, out of `ps`.
 */
function monitorOptions(
  o: Record<string, unknown>,
  token: string,
  /** The process, once it started: its address and membership are known only then. */
  self: () => StratusProcess | undefined,
): MonitorOptions | undefined {
  if (o.autoscale !== true) return undefined;
  const m: MonitorOptions = {
    minExecutors: o.minExecutors as number,
    maxExecutors: o.maxExecutors as number,
    scaleUpUtilisation: o.scaleUpUtilisation as number,
    scaleUpQueueMs: o.scaleUpQueueMs as number,
    idleGraceMs: o.idleGraceMs as number,
  };
  let provider: NodeProvider | undefined;
  if (o.nodeProvider === "local") {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    env.STRATUS_TOKEN = token;
    const password = givenStorePassword(o, process.env);
    if (password !== undefined) env.STRATUS_STORE_PASSWORD = password;
    const script = process.argv[1];
    if (script === undefined)
      throw new Error("--node-provider local: cannot tell how this CLI was started");
    const executors =
      typeof o.nodeExecutors === "number" ? o.nodeExecutors : (o.minExecutors as number);
    // The join address is known once the process listens; the provider asks for it then.
    provider = new LocalNodeProvider({
      command: [process.execPath, ...process.execArgv, script],
      join: () => self()?.url ?? "",
      args: ["--host", String(o.host), "--executors", String(executors), ...tlsArgs(o)],
      env,
      log: (msg) => log.warn(msg),
      // Nodes another scheduler's provider started count too (after the lease moves).
      members: () => self()?.nodeIds ?? [],
    });
  } else if (o.nodeProvider === "kubernetes") {
    provider = new KubernetesNodeProvider({
      deployment: o.k8sDeployment as string,
      namespace: o.k8sNamespace as string,
    });
  }
  if (provider !== undefined) {
    m.nodes = { provider, minNodes: o.minNodes as number, maxNodes: o.maxNodes as number };
  }
  return m;
}

/** This process's TLS flags, for the nodes the local provider starts (they join over TLS too). */
function tlsArgs(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [flag, key] of [
    ["--tls-cert", "tlsCert"],
    ["--tls-key", "tlsKey"],
    ["--tls-ca", "tlsCa"],
  ] as const) {
    const v = o[key];
    if (typeof v === "string") out.push(flag, v);
  }
  return out;
}

/** What a node runs its functions with: executor threads, chains, and the cap on time limits. */
function executors(c: Command): Command {
  return c
    .option("--executors <n>", "executor threads", int, 4)
    .option("--no-fuse", "run every DAG function as its own invocation (no chains in one worker)")
    .option(
      "--max-timeout-ms <ms>",
      "cap on any function's time limit, its own timeoutMs included",
      int,
      900_000,
    );
}

/** Limits of the functions a node runs, and how often a lost node's calls are retried. */
function limits(c: Command): Command {
  return c
    .option("--timeout-ms <ms>", "default time limit of one function invocation", int, 60_000)
    .option("--memory-mb <mb>", "heap limit of each executor worker", int, 512)
    .option("--max-retries <n>", "retries of a call whose node was lost", int, 2)
    .option(
      "--max-txn-ms <ms>",
      "longest a transaction or read-atomic run may take (its default deadline, and the most it may ask); the same on every process of a cluster",
      int,
      TXN_DEFAULTS.maxTxnMs,
    );
}

listen(
  tokenFile(storePasswordFile(executors(limits(httpPort(autoscale(program.command("up")))))))
    .description(
      "run an all-in-one cluster: storage, scheduler and a node; prints its address and token",
    )
    .option(
      "--store <address>",
      "memory:, memory:/path/to/log, redis://host:port or redis-cluster://h:p,h:p",
      "memory:",
    )
    .option("--token <token>", "cluster token (default: STRATUS_TOKEN, else random)")
    .addOption(
      new Option("--placement <policy>", "placement policy")
        .choices(["locality", "spread"])
        .default("locality"),
    )
    .option(
      "--pin <fn=node>",
      "place function fn on node id while it is live (repeatable; for benchmarks and tests)",
      collect,
    )
    .option("--demo", "register the demo functions inc, square and DAG pipeline"),
).action(async (o: Record<string, unknown>) => {
  const given = processToken(o);
  const token = given?.token ?? randomBytes(16).toString("hex");
  const started: { proc?: StratusProcess } = {};
  const monitor = monitorOptions(o, token, () => started.proc);
  const proc = await StratusProcess.start({
    ...processOptions(o),
    token,
    store: storeAddress(o.store as string, o),
    executors: o.executors as number,
    placement: o.placement as "locality" | "spread",
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
  const shownStore = withoutStorePassword(o.store as string).address;
  process.stdout.write(
    `Stratus is up at ${proc.url}\n  token: ${shownToken}\n  store: ${shownStore}\n`,
  );
  if (proc.httpUrl !== undefined) process.stdout.write(`  http: ${proc.httpUrl}\n`);
  if (proc.dashboardUrl !== undefined) {
    process.stdout.write(`  dashboard: ${proc.dashboardUrl}\n`);
  }
  // From the sources this is a checkout of the repository, where `npx stratus` is not linked.
  const cmd = import.meta.url.endsWith(".ts") ? "npm run stratus --" : "npx stratus";
  process.stdout.write(
    `Try (another terminal):  ${cmd} call inc '[1]'  |  ${cmd} dag pipeline '{"inc":[1]}'  |  ${cmd} status\n`,
  );
  log.info({ url: proc.url, id: proc.id, executors: o.executors }, "up");
  await stayUp(proc, o, token);
});

listen(
  storePasswordFile(
    limits(
      target(
        executors(
          program
            .command("node")
            .description("run a node (cache + executors) that joins a cluster"),
        ),
      ),
    ),
  )
    .option("--join <url>", "address of a scheduler of the cluster (required)")
    .option("--store <address>", "storage address (default: the one the cluster uses)"),
).action(async (o: Record<string, unknown>) => {
  required(o, "join", "--join <url>");
  const { token } = resolveTarget({ ...o, url: o.join });
  redactor.add(token);
  const options = processOptions(o);
  let store = o.store as string | undefined;
  if (store === undefined) {
    // The scheduler is checked as every peer is: against --tls-ca, else this node's certificate.
    const tls = peerTlsOptions(options.tls);
    const conn = await connect(o.join as string, {
      token,
      role: "node",
      id: "joining",
      ...(tls && { tls }),
    }).catch((e: unknown) => {
      throw joinError(String(o.join), e);
    });
    const info = await conn.request<{ store: string | null; storeNeedsPassword?: boolean }>(
      "cluster.info",
      {},
    );
    await conn.close();
    store = info.store ?? undefined;
    if (store === undefined || store.startsWith("memory:")) {
      throw new Error(
        `the cluster at ${String(o.join)} keeps its state in process memory; nodes on other processes need shared storage: start it with --store redis://... (or pass --store here)`,
      );
    }
    // The cluster never hands out its store's password (see cluster.info): a node brings it.
    if (info.storeNeedsPassword === true && givenStorePassword(o, process.env) === undefined) {
      throw new InvalidArgumentError(
        `the store of the cluster at ${String(o.join)} needs a password: give it with --store-password-file <path> or STRATUS_STORE_PASSWORD`,
      );
    }
  }
  const proc = await StratusProcess.start({
    ...options,
    token,
    store: storeAddress(store, o),
    scheduler: false,
    executors: o.executors as number,
  });
  process.stdout.write(`node ${proc.id} joined at ${proc.url}\n`);
  log.info({ url: proc.url, id: proc.id }, "node up");
  await stayUp(proc, o, token);
});

listen(
  tokenFile(storePasswordFile(limits(httpPort(autoscale(program.command("scheduler"))))))
    .description("run a stateless scheduler over the cluster's storage")
    .option("--store <address>", "redis://host:port or redis-cluster://h:p,h:p (required)")
    .option("--token <token>", "cluster token (or --token-file, or STRATUS_TOKEN)")
    .addOption(
      new Option("--placement <policy>", "placement policy")
        .choices(["locality", "spread"])
        .default("locality"),
    )
    .option(
      "--pin <fn=node>",
      "place function fn on node id while it is live (repeatable; for benchmarks and tests)",
      collect,
    ),
).action(async (o: Record<string, unknown>) => {
  required(o, "store", "--store <address>");
  const given = processToken(o);
  if (given === undefined) {
    throw new InvalidArgumentError(
      "a scheduler needs the cluster token: --token, --token-file <path> or STRATUS_TOKEN",
    );
  }
  const started: { proc?: StratusProcess } = {};
  const monitor = monitorOptions(o, given.token, () => started.proc);
  const proc = await StratusProcess.start({
    ...processOptions(o),
    token: given.token,
    store: storeAddress(o.store as string, o),
    executors: 0,
    placement: o.placement as "locality" | "spread",
    ...(monitor && { monitor }),
  });
  started.proc = proc;
  process.stdout.write(`scheduler ${proc.id} at ${proc.url}\n`);
  if (proc.httpUrl !== undefined) process.stdout.write(`  http: ${proc.httpUrl}\n`);
  if (proc.dashboardUrl !== undefined) {
    process.stdout.write(`  dashboard: ${proc.dashboardUrl}\n`);
  }
  log.info({ url: proc.url, id: proc.id }, "scheduler up");
  await stayUp(proc, o, given.token);
});

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
function required(o: Record<string, unknown>, key: string, flag: string): void {
  if (typeof o[key] !== "string") {
    throw new InvalidArgumentError(`${flag} is required (or ${key}: in the --config file)`);
  }
}

// The config file fills in what the command line left out, before the command runs.
program.hook("preAction", (_program, cmd) => {
  const file = cmd.opts().config as unknown;
  if (typeof file !== "string") return;
  const all = program.commands.filter((c) =>
    (CONFIG_COMMANDS as readonly string[]).includes(c.name()),
  );
  applyConfigFile(cmd, file, all);
});

async function withCloud<T>(
  o: Record<string, unknown>,
  fn: (c: Stratus) => Promise<T>,
): Promise<T> {
  const { url, token } = resolveTarget(o);
  redactor.add(token);
  const tls = clientTls(o);
  const cloud = await Stratus.connect(url, { token, ...(tls && { tls }) });
  try {
    return await fn(cloud);
  } finally {
    await cloud.close();
  }
}

const print = (v: unknown): void => void process.stdout.write(JSON.stringify(v, null, 2) + "\n");

client(
  program
    .command("deploy <file>")
    .description("bundle a module with esbuild and register its exported functions (and `dags`)"),
).action(async (file: string, o: Record<string, unknown>) =>
  print(await withCloud(o, (c) => deploy(c, file))),
);

/** `--consistency` of one run; the cluster checks the level. */
const consistency = (c: Command): Command =>
  c.option(
    "--consistency <level>",
    "lww | repeatable-read | causal | transactional-causal | read-atomic (default: the DAG's, else lww)",
  );

function runOptions(o: Record<string, unknown>): CallOptions {
  return typeof o.consistency === "string"
    ? { consistency: o.consistency as CallOptions["consistency"] }
    : {};
}

client(
  consistency(
    program
      .command("call <fn> [args]")
      .description("call a function with a JSON array of arguments"),
  ),
).action(async (fn: string, args: string | undefined, o: Record<string, unknown>) => {
  const list = args === undefined ? [] : parseJson(args, "args");
  print(await withCloud(o, (c) => c.call(fn, Array.isArray(list) ? list : [list], runOptions(o))));
});

client(
  consistency(
    program
      .command("dag <name> [inputs]")
      .description('run a DAG; inputs is JSON like {"inc": [1]}'),
  ),
).action(async (name: string, inputs: string | undefined, o: Record<string, unknown>) => {
  const parsed = (inputs === undefined ? {} : parseJson(inputs, "inputs")) as Record<
    string,
    unknown[]
  >;
  print(await withCloud(o, (c) => c.callDag(name, parsed, runOptions(o))));
});

client(
  program
    .command("schedule <name> <cron>")
    .description(
      "call a function (--fn f --args '[..]') or run a DAG (--dag d --inputs '{..}') at every tick of a cron expression (UTC; six fields for seconds)",
    )
    .option("--fn <fn>", "function to call")
    .option("--args <json>", "JSON array of the function's arguments")
    .option("--dag <dag>", "DAG to run")
    .option("--inputs <json>", 'JSON inputs of the DAG, like {"inc": [1]}'),
).action(async (name: string, cron: string, o: Record<string, unknown>) => {
  const json = (v: unknown, what: string): unknown =>
    typeof v === "string" ? parseJson(v, what) : undefined;
  const t =
    typeof o.dag === "string"
      ? { dag: o.dag, inputs: (json(o.inputs, "inputs") ?? {}) as Record<string, unknown[]> }
      : {
          fn: typeof o.fn === "string" ? o.fn : "",
          args: (json(o.args, "args") ?? []) as unknown[],
        };
  if ((typeof o.fn === "string") === (typeof o.dag === "string")) {
    throw new InvalidArgumentError("give exactly one of --fn and --dag");
  }
  print(await withCloud(o, (c) => c.schedule(name, cron, t)));
});

client(program.command("unschedule <name>").description("remove a schedule")).action(
  async (name: string, o: Record<string, unknown>) =>
    print({ removed: await withCloud(o, (c) => c.unschedule(name)) }),
);

client(program.command("schedules").description("list schedules and their next ticks")).action(
  async (o: Record<string, unknown>) => print(await withCloud(o, (c) => c.schedules())),
);

client(
  program
    .command("status")
    .description("nodes, executors, load, functions and DAGs, with their statistics")
    .option("--json", "print JSON (the status and a `stats` object) for scripts"),
).action(async (o: Record<string, unknown>) => {
  const status = await withCloud(o, (c) => c.status());
  const { url, token } = resolveTarget(o);
  const tls = clientTls(o);
  const conn = await connect(url, {
    token,
    role: "client",
    id: "stratus-status",
    ...(tls && { tls }),
  });
  let stats: ClusterStats;
  try {
    stats = await conn.request<ClusterStats>("cluster.stats", {});
  } finally {
    await conn.close();
  }
  const report = { ...status, stats };
  if (o.json === true) print(report);
  else process.stdout.write(formatStatus(report, url));
});

program.parseAsync().catch((e: unknown) => {
  const msg = isStratusError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
  process.stderr.write(`stratus: ${redactor.scrub(msg)}\n`);
  process.exit(1);
});

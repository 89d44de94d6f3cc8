/**
 * From the flags of `up`, `node` and `scheduler` to a process's options: the token and the store
 * password (noted for redaction), TLS, limits, pins and the autoscaler with its node provider.
 */
import type { StratusProcess } from "../cluster/index.js";
import { withStorePassword, withoutStorePassword } from "../cluster/index.js";
import type { ProcessOptions } from "../cluster/index.js";
import { KubernetesNodeProvider, LocalNodeProvider } from "../monitor/index.js";
import type { MonitorOptions, NodeProvider } from "../monitor/index.js";
import type {
  AutoscaleFlags,
  ExecutorFlags,
  HttpFlags,
  LimitFlags,
  ListenFlags,
  PlacementFlags,
  StorePasswordFlags,
  TokenFileFlags,
} from "./flags.js";
import { pins } from "./flags.js";
import type { CliOutput } from "./log.js";
import { givenStorePassword, givenToken } from "./secrets.js";

/** The flags every process command has, and those only some have. */
export type ServeFlags = ListenFlags &
  StorePasswordFlags &
  LimitFlags &
  Partial<ExecutorFlags & HttpFlags & AutoscaleFlags & PlacementFlags & TokenFileFlags> & {
    token?: string;
  };

/** The token a process was given (flag, file or STRATUS_TOKEN), its secrets noted for redaction. */
export function processToken(o: ServeFlags, out: CliOutput): ReturnType<typeof givenToken> {
  const given = givenToken(o, process.env);
  out.redactor.add(given?.token);
  return given;
}

/**
 * The store address a process opens: the one given, with the password from
 * `--store-password-file` or STRATUS_STORE_PASSWORD put in when there is one.
 */
export function storeAddress(address: string, o: StorePasswordFlags, out: CliOutput): string {
  const password = givenStorePassword(o, process.env);
  out.redactor.add(password);
  out.redactor.add(withoutStorePassword(address).password);
  return password === undefined ? address : withStorePassword(address, password);
}

/** The token travels in the hello: past loopback it must not go in the clear. */
function warnIfPlain(o: ListenFlags, out: CliOutput): void {
  const host = String(o.host);
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  if (!loopback && o.tlsCert === undefined) {
    out.log.warn(
      { host },
      "listening on a non-loopback address without TLS: the cluster token and all traffic cross the network in the clear; use --tls-cert and --tls-key",
    );
  }
}

/** The process options the flags give, but for the token, store and roles the command sets. */
export function processOptions(o: ServeFlags, out: CliOutput): Omit<ProcessOptions, "token"> {
  // Lifecycle events and function console lines go to stderr with the CLI's own lines.
  const opts: Omit<ProcessOptions, "token"> = { host: o.host, port: o.port, log: out.log };
  if (typeof o.advertise === "string") opts.advertise = o.advertise;
  if (typeof o.id === "string") opts.id = o.id;
  if (typeof o.tlsCert === "string" || typeof o.tlsKey === "string") {
    if (typeof o.tlsCert !== "string" || typeof o.tlsKey !== "string") {
      throw new Error("--tls-cert and --tls-key go together");
    }
    opts.tls = { certFile: o.tlsCert, keyFile: o.tlsKey };
    if (typeof o.tlsCa === "string") opts.tls.caFile = o.tlsCa;
  } else if (typeof o.tlsCa === "string") {
    // A CA alone would be silently ignored: this process would neither serve TLS nor use it.
    throw new Error("--tls-ca goes with --tls-cert and --tls-key");
  }
  warnIfPlain(o, out);
  if (typeof o.maxRetries === "number") opts.maxRetries = o.maxRetries;
  if (typeof o.maxTxnMs === "number") opts.txn = { maxTxnMs: o.maxTxnMs };
  if (typeof o.clockOffsetMs === "number") opts.clockOffsetMs = o.clockOffsetMs;
  if (typeof o.lagInvalidationsMs === "number") opts.lagInvalidationsMs = o.lagInvalidationsMs;
  if (typeof o.futureRetentionMs === "number") opts.futureRetentionMs = o.futureRetentionMs;
  if (typeof o.otlpEndpoint === "string") opts.otlpEndpoint = o.otlpEndpoint;
  if (typeof o.httpPort === "number") opts.httpPort = o.httpPort;
  if (typeof o.maxConnections === "number") opts.maxConnections = o.maxConnections;
  if (typeof o.maxHttpConnections === "number") opts.maxHttpConnections = o.maxHttpConnections;
  if (typeof o.maxConnectionsPerAddress === "number") {
    opts.maxConnectionsPerAddress = o.maxConnectionsPerAddress;
  }
  if (o.dashboard === false) opts.dashboard = false;
  if (o.fuse === false) opts.fuse = false;
  if (Array.isArray(o.pin)) opts.pin = pins(o.pin);
  const pool: NonNullable<ProcessOptions["pool"]> = {};
  if (typeof o.timeoutMs === "number") pool.defaultTimeoutMs = o.timeoutMs;
  if (typeof o.maxTimeoutMs === "number") pool.maxTimeoutMs = o.maxTimeoutMs;
  if (typeof o.memoryMb === "number") pool.resourceLimits = { maxOldGenerationSizeMb: o.memoryMb };
  opts.pool = pool;
  return opts;
}

/**
 * Monitor options from the flags; the local provider's nodes run this same CLI with the cluster
 * token (and store password) in their environment, out of `ps`.
 */
export function monitorOptions(
  o: ListenFlags & AutoscaleFlags & StorePasswordFlags,
  token: string,
  /** The process, once it started: its address and membership are known only then. */
  self: () => StratusProcess | undefined,
  out: CliOutput,
): MonitorOptions | undefined {
  if (o.autoscale !== true) return undefined;
  const m: MonitorOptions = {
    minExecutors: o.minExecutors,
    maxExecutors: o.maxExecutors,
    scaleUpUtilisation: o.scaleUpUtilisation,
    scaleUpQueueMs: o.scaleUpQueueMs,
    idleGraceMs: o.idleGraceMs,
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
    const executors = typeof o.nodeExecutors === "number" ? o.nodeExecutors : o.minExecutors;
    // The join address is known once the process listens; the provider asks for it then.
    provider = new LocalNodeProvider({
      command: [process.execPath, ...process.execArgv, script],
      join: () => self()?.url ?? "",
      args: ["--host", String(o.host), "--executors", String(executors), ...tlsArgs(o)],
      env,
      log: (msg) => out.log.warn(msg),
      // Nodes another scheduler's provider started count too (after the lease moves).
      members: () => self()?.nodeIds ?? [],
    });
  } else if (o.nodeProvider === "kubernetes") {
    provider = new KubernetesNodeProvider({
      deployment: o.k8sDeployment,
      namespace: o.k8sNamespace,
    });
  }
  if (provider !== undefined) {
    m.nodes = { provider, minNodes: o.minNodes, maxNodes: o.maxNodes };
  }
  return m;
}

/** This process's TLS flags, for the nodes the local provider starts (they join over TLS too). */
function tlsArgs(o: ListenFlags): string[] {
  const args: string[] = [];
  for (const [flag, key] of [
    ["--tls-cert", "tlsCert"],
    ["--tls-key", "tlsKey"],
    ["--tls-ca", "tlsCa"],
  ] as const) {
    const v = o[key];
    if (typeof v === "string") args.push(flag, v);
  }
  return args;
}

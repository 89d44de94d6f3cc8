/**
 * The `stratus` flags: their parsers, the groups commands share, and the type of what each group
 * gives a command's action. A group and its type sit side by side so they stay in step; defaults
 * are read from the subsystems that own them, never restated here.
 */
import { Option } from "commander";
import type { Command } from "commander";
import { PROCESS_DEFAULTS } from "../cluster/index.js";
import { MONITOR_DEFAULTS } from "../monitor/index.js";
import { POOL_DEFAULTS } from "../node/index.js";
import { PLACEMENT_POLICIES } from "../scheduler/index.js";
import type { PlacementPolicy } from "../scheduler/index.js";
import { TXN_DEFAULTS } from "../txn/index.js";

/** Adds flags to a command. */
export type FlagGroup = (c: Command) => Command;

/**
 * Adds the groups to `c` in order (their flags are listed in `--help` in that order).
 *
 * @example
 * ```ts
 * withFlags(program.command("node"), executors, limits, listen).action((o: NodeFlags) => …);
 * ```
 */
export function withFlags(c: Command, ...groups: FlagGroup[]): Command {
  return groups.reduce((cmd, add) => add(cmd), c);
}

// ---- parsers ----

export const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${v} is not a non-negative integer`);
  return n;
};

export const ratio = (v: string): number => {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new Error(`${v} is not a number in (0, 1]`);
  return n;
};

/** A repeatable flag's values, in order. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `--pin fn=node` pairs; a malformed one stops the command with the pair named. */
export function pins(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0 || eq === p.length - 1) throw new Error(`--pin ${p}: expected function=node-id`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

// ---- where a client command finds its cluster ----

export interface TargetFlags {
  url?: string;
  token?: string;
  tokenFile?: string;
}

export const target: FlagGroup = (c) =>
  c
    .option("--url <url>", "cluster address (default: STRATUS_URL or the one `stratus up` saved)")
    .option("--token <token>", "cluster token (default: STRATUS_TOKEN or the saved one)")
    .option("--token-file <path>", "read the cluster token from a file (keeps it out of `ps`)");

export interface ClientFlags extends TargetFlags {
  tlsCa?: string;
}

/** A command that talks to a cluster as a client: where it is, the token, and whom to trust. */
export const client: FlagGroup = (c) =>
  target(c).option(
    "--tls-ca <file>",
    "trust this PEM certificate (the cluster's CA, or its self-signed certificate) for stratuss://",
  );

export interface ConsistencyFlags {
  consistency?: string;
}

/** `--consistency` of one run; the cluster checks the level. */
export const consistency: FlagGroup = (c) =>
  c.option(
    "--consistency <level>",
    "lww | repeatable-read | causal | transactional-causal | read-atomic (default: the DAG's, else lww)",
  );

// ---- what a process is started with ----

export interface TokenFileFlags {
  tokenFile?: string;
}

/** `--token-file` for the commands that start processes (they have their own `--token`). */
export const tokenFile: FlagGroup = (c) =>
  c.option("--token-file <path>", "read the cluster token from a file (keeps it out of `ps`)");

export interface StorePasswordFlags {
  storePasswordFile?: string;
}

export const storePasswordFile: FlagGroup = (c) =>
  c.option(
    "--store-password-file <path>",
    "read the store's password from a file (default: STRATUS_STORE_PASSWORD); keeps it out of `ps`",
  );

export interface ListenFlags {
  config?: string;
  host: string;
  port: number;
  advertise?: string;
  id?: string;
  metricsPort?: number;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  futureRetentionMs: number;
  otlpEndpoint?: string;
  clockOffsetMs?: number;
  lagInvalidationsMs?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** Where a process listens, who it says it is, and its TLS. */
export const listen: FlagGroup = (c) =>
  c
    .option(
      "--config <file>",
      "read options from a YAML or JSON file (flags on the command line win)",
    )
    .option("--host <host>", "address to listen on", PROCESS_DEFAULTS.host)
    .option("--port <port>", "port to listen on (0 = any free port)", int, PROCESS_DEFAULTS.port)
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
      PROCESS_DEFAULTS.futureRetentionMs,
    )
    .option(
      "--otlp-endpoint <url>",
      "export OpenTelemetry traces over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318)",
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

export interface HttpFlags {
  httpPort?: number;
  maxHttpConnections?: number;
  /** False with `--no-dashboard`. */
  dashboard: boolean;
}

/** The HTTP ingress of a scheduler (`up`, `scheduler`); nodes have none. */
export const httpPort: FlagGroup = (c) =>
  c
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

export interface AutoscaleFlags {
  autoscale?: true;
  minExecutors: number;
  maxExecutors: number;
  scaleUpUtilisation: number;
  scaleUpQueueMs: number;
  idleGraceMs: number;
  nodeProvider?: "local" | "kubernetes";
  minNodes: number;
  maxNodes: number;
  nodeExecutors?: number;
  k8sDeployment: string;
  k8sNamespace: string;
}

/** The autoscaler of a scheduler (`up`, `scheduler`): off unless --autoscale. */
export const autoscale: FlagGroup = (c) =>
  c
    .option(
      "--autoscale",
      "run the autoscaler (one scheduler acts at a time, by a lease in the store)",
    )
    .option("--min-executors <n>", "fewest executors per node", int, MONITOR_DEFAULTS.minExecutors)
    .option("--max-executors <n>", "most executors per node", int, MONITOR_DEFAULTS.maxExecutors)
    .option(
      "--scale-up-utilisation <r>",
      "grow a node busier than this share of its executors",
      ratio,
      MONITOR_DEFAULTS.scaleUpUtilisation,
    )
    .option(
      "--scale-up-queue-ms <ms>",
      "grow a node whose median queueing delay passes this",
      int,
      MONITOR_DEFAULTS.scaleUpQueueMs,
    )
    .option(
      "--idle-grace-ms <ms>",
      "remove executors once fewer sufficed for this long",
      int,
      MONITOR_DEFAULTS.idleGraceMs,
    )
    .addOption(
      new Option(
        "--node-provider <provider>",
        "add and remove whole nodes with this provider",
      ).choices(["local", "kubernetes"]),
    )
    .option("--min-nodes <n>", "fewest nodes the provider keeps", int, MONITOR_DEFAULTS.minNodes)
    .option("--max-nodes <n>", "most nodes the provider runs", int, MONITOR_DEFAULTS.maxNodes)
    .option("--node-executors <n>", "executors of each node the local provider starts", int)
    .option(
      "--k8s-deployment <name>",
      "kubernetes provider: the Deployment of nodes",
      "stratus-node",
    )
    .option("--k8s-namespace <ns>", "kubernetes provider: its namespace", "default");

export interface ExecutorFlags {
  executors: number;
  /** False with `--no-fuse`. */
  fuse: boolean;
  maxTimeoutMs: number;
}

/** What a node runs its functions with: executor threads, chains, and the cap on time limits. */
export const executors: FlagGroup = (c) =>
  c
    .option("--executors <n>", "executor threads", int, PROCESS_DEFAULTS.executors)
    .option("--no-fuse", "run every DAG function as its own invocation (no chains in one worker)")
    .option(
      "--max-timeout-ms <ms>",
      "cap on any function's time limit, its own timeoutMs included",
      int,
      POOL_DEFAULTS.maxTimeoutMs,
    );

export interface LimitFlags {
  timeoutMs: number;
  memoryMb: number;
  maxRetries: number;
  maxTxnMs: number;
}

/** Limits of the functions a node runs, and how often a lost node's calls are retried. */
export const limits: FlagGroup = (c) =>
  c
    .option(
      "--timeout-ms <ms>",
      "default time limit of one function invocation",
      int,
      POOL_DEFAULTS.defaultTimeoutMs,
    )
    .option(
      "--memory-mb <mb>",
      "heap limit of each executor worker",
      int,
      POOL_DEFAULTS.maxOldGenerationSizeMb,
    )
    .option(
      "--max-retries <n>",
      "retries of a call whose node was lost",
      int,
      PROCESS_DEFAULTS.maxRetries,
    )
    .option(
      "--max-txn-ms <ms>",
      "longest a transaction or read-atomic run may take (its default deadline, and the most it may ask); the same on every process of a cluster",
      int,
      TXN_DEFAULTS.maxTxnMs,
    );

export interface PlacementFlags {
  placement: PlacementPolicy;
  pin?: string[];
}

/** How a scheduler places functions (`up`, `scheduler`). */
export const placement: FlagGroup = (c) =>
  c
    .addOption(
      new Option("--placement <policy>", "placement policy")
        .choices(PLACEMENT_POLICIES)
        .default(PROCESS_DEFAULTS.placement),
    )
    .option(
      "--pin <fn=node>",
      "place function fn on node id while it is live (repeatable; for benchmarks and tests)",
      collect,
    );

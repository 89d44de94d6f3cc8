/**
 * peers: square(increment(x)) as two functions that each run as their own invocation, sequential
 * then 64 in flight, on Restate and on Stratus (chains off), measured in the same run by the same
 * client in alternating blocks. Stratus runs twice: on its default (memory) store, and on Redis
 * with `appendfsync everysec`; the ratios use the Redis run, the durable one, as Restate is.
 *
 * restate-server and @restatedev/restate-sdk are installed once into bench/.scratch/peers (pinned
 * versions below). Each run starts one child under `unshare -n` (a private network namespace with
 * only loopback up, so restate-server neither binds public interfaces nor phones home) which runs
 * restate-server, the SDK endpoint (bench/peers/endpoint.mjs) and the measuring client
 * (bench/peers/netns.ts), and prints the metrics as one JSON line. The child is the leader of its
 * own process group: the whole group is killed, and the temp dir removed, whatever happens.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import type { Benchmark, BenchContext, Metrics } from "./lib/harness.js";

/** The newest releases at the time of writing; the SDK 1.17 line needs Promise.withResolvers,
 * which bench/peers/endpoint.mjs polyfills on Node 20. */
const SERVER_VERSION = "1.7.12";
const SDK_VERSION = "1.17.2";

const root = join(import.meta.dirname, "..");
export const scratch = join(root, "bench", ".scratch", "peers");
const INSTALL_TIMEOUT_MS = 5 * 60_000;

function installedVersion(pkg: string): string | undefined {
  try {
    const json = readFileSync(join(scratch, "node_modules", pkg, "package.json"), "utf8");
    return (JSON.parse(json) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The platform's restate-server binary, as the package's own launcher (lib/index.js) finds it. */
function serverBinary(): string | undefined {
  try {
    const req = createRequire(join(scratch, "package.json"));
    const bin = req.resolve(
      `@restatedev/restate-server-${platform()}-${arch()}/bin/restate-server`,
    );
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a command to completion; rejects with its output's tail on failure or after `ms`. */
function run(cmd: string, args: string[], ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-4000));
    p.stdout.on("data", keep);
    p.stderr.on("data", keep);
    const t = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")}: timed out after ${ms / 1000} s\n${out}`));
    }, ms);
    p.on("error", (err) => {
      clearTimeout(t);
      reject(err);
    });
    p.on("exit", (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${code ?? sig}):\n${out}`));
    });
  });
}

export async function ensureInstalled(ctx: BenchContext): Promise<string> {
  const current =
    installedVersion("@restatedev/restate-server") === SERVER_VERSION &&
    installedVersion("@restatedev/restate-sdk") === SDK_VERSION;
  let bin = current ? serverBinary() : undefined;
  if (bin !== undefined) return bin;
  ctx.log(
    `installing @restatedev/restate-server@${SERVER_VERSION} and ` +
      `@restatedev/restate-sdk@${SDK_VERSION} into bench/.scratch/peers (once)`,
  );
  await run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      // Nothing needed runs at install time (the binary ships as an optional dependency); this
      // skips the server package's @scarf/scarf telemetry postinstall.
      "--ignore-scripts",
      "--prefix",
      scratch,
      `@restatedev/restate-server@${SERVER_VERSION}`,
      `@restatedev/restate-sdk@${SDK_VERSION}`,
    ],
    INSTALL_TIMEOUT_MS,
  );
  bin = serverBinary();
  if (bin === undefined) {
    throw new Error(
      `no restate-server binary for ${platform()}-${arch()} in bench/.scratch/peers ` +
        `(@restatedev/restate-server-${platform()}-${arch()} was not installed)`,
    );
  }
  return bin;
}

/** Retries, as a just-killed restate-server's files can still be settling. */
function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/** Runs bench/peers/netns.ts in a fresh network namespace and returns the metrics it prints. */
function measureInNetns(ctx: BenchContext, bin: string, tmp: string): Promise<Metrics> {
  const timeoutMs = ctx.quick ? 240_000 : 600_000;
  // As root `unshare -n` suffices; otherwise a user namespace (`-r`) grants the right to make one.
  const unshare = process.getuid?.() === 0 ? ["-n"] : ["-r", "-n"];
  const argv = [
    ...unshare,
    "sh",
    "-c",
    'ip link set lo up && exec "$0" "$@"',
    process.execPath,
    "--import",
    "tsx",
    join(root, "bench", "peers", "netns.ts"),
    scratch,
    bin,
    tmp,
    ...(ctx.quick ? ["--quick"] : []),
  ];
  const child = spawn("unshare", argv, {
    cwd: root,
    detached: true, // its own process group: restate-server and the endpoint die with it
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    killGroup();
    removeDir(tmp);
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.on("exit", killGroup);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let stdout = "";
  let stderrTail = "";
  let partial = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    const text = d.toString();
    stderrTail = (stderrTail + text).slice(-6000);
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") ctx.log(line);
  });

  return new Promise<Metrics>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(); // the leader's exit, below, then reports the timeout
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`peers: cannot run unshare (util-linux): ${err.message}`));
    });
    child.on("exit", (code, sig) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith("PEERS_RESULT "));
      if (timedOut) {
        reject(
          new Error(
            `peers: timed out after ${timeoutMs / 1000} s; killed restate-server, the endpoint ` +
              `and the client. Last output:\n${stderrTail}`,
          ),
        );
      } else if (code === 0 && line !== undefined) {
        resolve(JSON.parse(line.slice("PEERS_RESULT ".length)) as Metrics);
      } else {
        const hint = /unshare|Operation not permitted/.test(stderrTail)
          ? "\n(unshare -n needs root or unprivileged user namespaces)"
          : "";
        reject(new Error(`peers: the Restate run failed (${code ?? sig}):\n${stderrTail}${hint}`));
      }
    });
  }).finally(() => {
    killGroup();
    process.off("exit", killGroup);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
}

const peers: Benchmark = {
  name: "peers",
  description:
    `inc then square, two invocations: Restate ${SERVER_VERSION} (TS SDK ${SDK_VERSION}, via ` +
    `the ingress) vs Stratus unfused on memory and on Redis (appendfsync everysec), same run`,
  async run(ctx): Promise<Metrics> {
    const bin = await ensureInstalled(ctx);
    const tmp = mkdtempSync(join(tmpdir(), "stratus-peers-"));
    let m: Metrics;
    try {
      m = await measureInNetns(ctx, bin, tmp);
    } finally {
      removeDir(tmp);
    }
    m.restate_vs_stratus_p50 = (m.restate_dag_p50_ms ?? NaN) / (m.stratus_redis_dag_p50_ms ?? NaN);
    m.restate_vs_stratus_rps =
      (m.stratus_redis_dag_throughput_rps ?? NaN) / (m.restate_dag_throughput_rps ?? NaN);
    m.restate_vs_stratus_memory_p50 = (m.restate_dag_p50_ms ?? NaN) / (m.stratus_dag_p50_ms ?? NaN);
    m.restate_vs_stratus_memory_rps =
      (m.stratus_dag_throughput_rps ?? NaN) / (m.restate_dag_throughput_rps ?? NaN);
    return m;
  },
};
export default peers;

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
import { runInNetns } from "./peers/netns-run.js";

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
export function measurePeersInNetns(
  ctx: BenchContext,
  bin: string,
  tmp: string,
  /** Also Stratus's exactly-once DAG, in the same blocks (bench/txn.ts). */
  exactlyOnce = false,
): Promise<Metrics> {
  return runInNetns<Metrics>({
    script: join(root, "bench", "peers", "netns.ts"),
    args: [
      scratch,
      bin,
      tmp,
      ...(ctx.quick ? ["--quick"] : []),
      ...(exactlyOnce ? ["--exactly-once"] : []),
    ],
    prefix: "PEERS_RESULT",
    timeoutMs: ctx.quick ? 240_000 : 600_000,
    log: (line) => ctx.log(line),
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
      m = await measurePeersInNetns(ctx, bin, tmp);
    } finally {
      removeDir(tmp);
    }
    return m;
  },
};
export default peers;

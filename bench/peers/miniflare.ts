/**
 * Cloudflare Durable Objects run locally: miniflare 4 (and the workerd binary it gets from npm),
 * installed once into bench/.scratch/miniflare, and a launcher for a worker script with Durable
 * Object classes, bound to 127.0.0.1. Run the launcher inside a private network namespace (see
 * bench/peers/netns-run.ts) so workerd cannot reach the network at all.
 *
 * @example
 * ```ts
 * const scratch = await ensureMiniflare(ctx.log);            // outside the namespace
 * const mf = await startMiniflare({ scratch, script: "bench/peers/do-counter.mjs",
 *   durableObjects: { COUNTER: "Counter" }, persistDir: tmp }); // inside it
 * await fetch(`${mf.url}hot/add`, { method: "POST", body: "1" });
 * await mf.stop();
 * ```
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The last miniflare 4 release that runs on Node 20 (4.20260430.0 and later need Node 22). */
export const MINIFLARE_VERSION = "4.20260426.0";
export const miniflareScratch = join(import.meta.dirname, "..", ".scratch", "miniflare");
const INSTALL_TIMEOUT_MS = 5 * 60_000;

function installedVersion(): string | undefined {
  try {
    const pkg = join(miniflareScratch, "node_modules", "miniflare", "package.json");
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function workerdInstalled(): boolean {
  const os = platform() === "win32" ? "windows" : platform();
  const cpu = arch() === "x64" ? "64" : arch();
  return existsSync(
    join(miniflareScratch, "node_modules", "@cloudflare", `workerd-${os}-${cpu}`, "bin", "workerd"),
  );
}

/** Installs miniflare (npm registry only) unless the pinned version is there; returns the dir. */
export async function ensureMiniflare(log: (msg: string) => void): Promise<string> {
  if (installedVersion() === MINIFLARE_VERSION && workerdInstalled()) return miniflareScratch;
  log(`installing miniflare@${MINIFLARE_VERSION} into bench/.scratch/miniflare (once)`);
  await new Promise<void>((resolve, reject) => {
    // --ignore-scripts: workerd's binary ships as an optional dependency; its postinstall would
    // only re-check it (and download it if missing, which we refuse to do at run time).
    const p = spawn(
      "npm",
      [
        ...["install", "--no-audit", "--no-fund", "--ignore-scripts"],
        ...["--prefix", miniflareScratch, `miniflare@${MINIFLARE_VERSION}`],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-4000));
    p.stdout.on("data", keep);
    p.stderr.on("data", keep);
    const t = setTimeout(() => p.kill("SIGKILL"), INSTALL_TIMEOUT_MS);
    p.on("error", reject);
    p.on("exit", (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`npm install miniflare failed (${code ?? sig}):\n${out}`));
    });
  });
  if (!workerdInstalled()) {
    throw new Error(`no workerd binary for ${platform()}-${arch()} in bench/.scratch/miniflare`);
  }
  return miniflareScratch;
}

export interface MiniflareOptions {
  scratch: string;
  /** An ES module worker script exporting the Durable Object classes. */
  script: string;
  /** Binding name to class name, e.g. `{ COUNTER: "Counter" }`. */
  durableObjects: Record<string, string>;
  /** Where Durable Object storage is kept on disk (SQLite files), like a real deployment keeps it
   * durably; omit for in-memory storage. */
  persistDir?: string;
  /** @default 0 (any free port) */
  port?: number;
}

export interface MiniflareHandle {
  /** Ends in "/", e.g. http://127.0.0.1:41234/ */
  url: string;
  stop(): Promise<void>;
}

interface MiniflareInstance {
  ready: Promise<URL>;
  dispose(): Promise<void>;
}

/** Starts workerd through miniflare's API on 127.0.0.1, with telemetry and cf-data fetch off. */
export async function startMiniflare(o: MiniflareOptions): Promise<MiniflareHandle> {
  const entry = join(o.scratch, "node_modules", "miniflare", "dist", "src", "index.js");
  const mod = (await import(pathToFileURL(entry).href)) as {
    Miniflare: new (opts: Record<string, unknown>) => MiniflareInstance;
  };
  const mf = new mod.Miniflare({
    modules: true,
    scriptPath: o.script,
    compatibilityDate: "2025-01-01",
    durableObjects: o.durableObjects,
    durableObjectsPersist: o.persistDir ?? false,
    host: "127.0.0.1",
    port: o.port ?? 0,
    cf: false,
    telemetry: { enabled: false },
    liveReload: false,
  });
  const url = await mf.ready;
  return { url: url.href, stop: () => mf.dispose() };
}

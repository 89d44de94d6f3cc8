/**
 * Which script a worker thread starts, and with which Node flags.
 *
 * Boot time is what autoscaling waits for, so a worker must start from plain JavaScript: from a
 * compiled build that is worker.js itself. From TypeScript sources (tests, `tsx`, benchmarks) the
 * worker's files are bundled once per process with esbuild into worker.bundle.mjs beside them
 * (ignored by git), rather than having every worker register tsx and compile them again: that
 * took a worker 2-3 times as long to boot as a plain one. Only if that bundle cannot be written
 * (a read-only tree) do workers go through bootstrap.mjs and tsx, as they used to.
 */
import { createRequire } from "node:module";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as Esbuild from "esbuild";

/** How a worker is started. */
export interface WorkerEntry {
  url: URL;
  /** Set when `url` is bootstrap.mjs: the module it imports once tsx is registered. */
  entry?: string;
  /** Node flags for the worker thread. */
  execArgv: string[];
}

// Flags that load code before the entry (tsx's loader and preflight, say): a worker thread
// inherits them by default and would run them again, on every boot, for nothing.
const PRELOAD_FLAGS = new Set(["--import", "--require", "-r", "--loader", "--experimental-loader"]);

/** `argv` without the preload flags (`--import x` and `--import=x` alike). */
export function withoutPreloads(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (PRELOAD_FLAGS.has(a)) {
      i++; // and its value
      continue;
    }
    const eq = a.indexOf("=");
    if (eq > 0 && PRELOAD_FLAGS.has(a.slice(0, eq))) continue;
    out.push(a);
  }
  return out;
}

const FROM_SOURCE = import.meta.url.endsWith(".ts");

let resolved: WorkerEntry | undefined;

/** The entry every worker of this process starts from, worked out (and bundled) once. */
export function workerEntry(): WorkerEntry {
  resolved ??= resolveEntry();
  return resolved;
}

function resolveEntry(): WorkerEntry {
  const plain = withoutPreloads(process.execArgv);
  if (!FROM_SOURCE) return { url: new URL("./worker.js", import.meta.url), execArgv: plain };
  const source = new URL("./worker.ts", import.meta.url);
  // The bundle's name starts with "worker" in this folder, where thrown.ts looks for the
  // worker's own stack frames, and bare imports (msgpackr) resolve from here as before.
  const bundle = new URL("./worker.bundle.mjs", import.meta.url);
  try {
    writeBundle(fileURLToPath(source), fileURLToPath(bundle));
    return { url: bundle, execArgv: plain };
  } catch {
    return {
      url: new URL("./bootstrap.mjs", import.meta.url),
      entry: source.href,
      execArgv: [...process.execArgv],
    };
  }
}

/** Bundles worker.ts into `out`, replacing the file atomically and only when it changed. */
function writeBundle(source: string, out: string): void {
  // Loaded only here: a compiled build never bundles, and esbuild is a dependency anyway.
  const esbuild = createRequire(import.meta.url)("esbuild") as typeof Esbuild;
  const built = esbuild.buildSync({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    write: false,
    logLevel: "silent",
  });
  const text = built.outputFiles[0]?.text;
  if (text === undefined) throw new Error("esbuild produced no output");
  let old: string | undefined;
  try {
    old = readFileSync(out, "utf8");
  } catch {
    old = undefined;
  }
  if (old === text) return;
  // Several processes (parallel test files) may write at once: each renames its own file over.
  const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Which script a worker thread starts, and with which Node flags.
 *
 * Boot time is what autoscaling waits for (a pool grows by dozens of workers on 2 cores), so a
 * worker starts from one plain CommonJS file, worker.bundle.cjs, that esbuild writes from
 * worker.ts and everything it imports, msgpackr included:
 * - from TypeScript sources (tests, `tsx`, benchmarks) once per process, into the checkout's
 *   cache folder (node_modules/.cache/stratus/, see {@link BUNDLE_CACHE}), never into src/,
 *   rather than having every worker register tsx and compile the sources again (2-3x the boot);
 * - for a compiled build by `npm run build` (scripts/bundle-worker.mjs), beside worker.js, which a
 *   build without it starts instead.
 * Why CommonJS and one file: an ES module entry sets up the ESM loader in every worker (~13 ms of
 * CPU each, measured on an empty worker), and msgpackr's Node entry loads its native string
 * extractor (msgpackr-extract, through node-gyp-build) and node:stream in every worker
 * (~20 ms); its plain-JS entry, bundled, costs a fraction of that and encodes the same bytes.
 * Only if the bundle cannot be written (a read-only node_modules) do workers go through
 * bootstrap.mjs and tsx, as they used to.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
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

const URL_NAME = "__stratusWorkerUrl";
const URL_BANNER = `const ${URL_NAME} = require("node:url").pathToFileURL(__filename).href;`;

let resolved: WorkerEntry | undefined;

/** The entry every worker of this process starts from, worked out (and bundled) once. */
export function workerEntry(): WorkerEntry {
  if (resolved === undefined) {
    resolved = resolveEntry();
    roomyYoungGeneration();
  }
  return resolved;
}

/** MB of each semi-space a worker's heap starts with: a boot allocates ~3-5 MB that all lives. */
const WORKER_SEMI_SPACE_MB = 4;

/**
 * Starts the heaps of workers created from now on with room for their boot. V8's default first
 * semi-space (1 MB) made every boot scavenge three times (5-25 ms of CPU, copying objects that
 * all survive); with 4 MB it does not scavenge at all, and a booted worker's resident memory
 * stays the same (~9 MB; measured with 32 workers). A V8 flag is process-wide and a worker
 * cannot be given one, but this one is read only when a heap is created, so the running heap
 * keeps its size. Left alone if the process was started with the flag.
 */
function roomyYoungGeneration(): void {
  if (process.execArgv.some((a) => a.startsWith("--min-semi-space-size"))) return;
  setFlagsFromString(`--min-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
}

/**
 * Where a process running from TypeScript sources writes its worker bundle: the cache folder of
 * the checkout's node_modules (where tools keep what they can rebuild). One file per source tree,
 * named after its path, so that checkouts sharing one node_modules (a symlinked install) never
 * start each other's workers. The name starts with "worker": thrown.ts finds the worker's own
 * stack frames by it.
 */
export const BUNDLE_CACHE = new URL("../../../node_modules/.cache/stratus/", import.meta.url);

/** The bundle file for the sources at `source` (worker.ts), inside {@link BUNDLE_CACHE}. */
export function cachedBundle(source: URL): URL {
  const tree = createHash("sha256").update(fileURLToPath(source)).digest("hex").slice(0, 12);
  return new URL(`worker-${tree}.bundle.cjs`, BUNDLE_CACHE);
}

function resolveEntry(): WorkerEntry {
  const plain = withoutPreloads(process.execArgv);
  if (!FROM_SOURCE) {
    const bundle = new URL("./worker.bundle.cjs", import.meta.url);
    const url = existsSync(bundle) ? bundle : new URL("./worker.js", import.meta.url);
    return { url, execArgv: plain };
  }
  const source = new URL("./worker.ts", import.meta.url);
  const bundle = cachedBundle(source);
  try {
    mkdirSync(BUNDLE_CACHE, { recursive: true });
    writeWorkerBundle(fileURLToPath(source), fileURLToPath(bundle));
    return { url: bundle, execArgv: plain };
  } catch {
    return {
      url: new URL("./bootstrap.mjs", import.meta.url),
      entry: source.href,
      execArgv: [...process.execArgv],
    };
  }
}

/**
 * Bundles the worker entry `source` (worker.ts or a compiled worker.js) into the CommonJS file
 * `out`, replacing it atomically and only when it changed.
 *
 * @example
 * ```ts
 * writeWorkerBundle("dist/node/executor/worker.js", "dist/node/executor/worker.bundle.cjs");
 * ```
 */
export function writeWorkerBundle(source: string, out: string): void {
  // Loaded only here: a compiled build bundles once, at build time.
  const esbuild = createRequire(import.meta.url)("esbuild") as typeof Esbuild;
  const built = esbuild.buildSync({
    entryPoints: [source],
    bundle: true,
    // "neutral", not "node": packages resolve through their "default" export condition, which
    // for msgpackr is its plain-JS entry (see the top of this file). Node's modules stay out.
    platform: "neutral",
    mainFields: ["module", "main"],
    external: ["node:*"],
    format: "cjs",
    target: "node20",
    // The sources are ES modules: strict, and `import.meta.url` is this file's URL.
    banner: { js: `"use strict";\n${URL_BANNER}` },
    define: { "import.meta.url": URL_NAME },
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

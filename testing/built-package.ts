/**
 * The package as built (`tsc` into `dist/`), laid out as an application installs it, for tests
 * and benchmarks that run fresh Node processes against it: `import "stratus"`, `stratus call`.
 * Its dependencies resolve from the repository's node_modules (the scratch folder lives inside
 * the checkout), so nothing is fetched.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..");

/** Where a built package was laid out. */
export interface BuiltPackage {
  /** The package folder (package.json, bin/, dist/), as `node_modules/stratus` would hold it. */
  pkg: string;
  /** An application folder whose `node_modules/stratus` is {@link pkg}. */
  app: string;
  /** `bin/stratus.js` of the package: the CLI as installed (it runs dist/, not the sources). */
  bin: string;
}

/** Options of {@link buildPackage}. */
export interface BuildOptions {
  /**
   * Emit only the declarations (.d.ts), without checking the sources (the typecheck does that):
   * about a third of the time, for tests that compile against the package's types and run none
   * of it. @default false
   */
  declarationsOnly?: boolean;
}

/**
 * Compiles the sources into `<dir>/pkg/dist` (the worker bundle is left out: nothing here starts
 * executors from it) and sets up `<dir>/app`. `dir` must be inside the checkout.
 *
 * @example
 * ```ts
 * const built = await buildPackage(join(root, ".tmp", "imports"));
 * spawn(process.execPath, ["-e", 'import("stratus")'], { cwd: built.app });
 * ```
 */
export async function buildPackage(dir: string, options: BuildOptions = {}): Promise<BuiltPackage> {
  rmSync(dir, { recursive: true, force: true });
  const pkg = join(dir, "pkg");
  const app = join(dir, "app");
  mkdirSync(join(pkg, "bin"), { recursive: true });
  mkdirSync(join(app, "node_modules"), { recursive: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const only = options.declarationsOnly === true ? ["--emitDeclarationOnly", "--noCheck"] : [];
  await exec(
    process.execPath,
    [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", join(pkg, "dist"), ...only],
    { cwd: root, timeout: 300_000 },
  );
  copyFileSync(join(root, "package.json"), join(pkg, "package.json"));
  copyFileSync(join(root, "bin", "stratus.js"), join(pkg, "bin", "stratus.js"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module" }));
  symlinkSync(pkg, join(app, "node_modules", "stratus"), "dir");
  return { pkg, app, bin: join(pkg, "bin", "stratus.js") };
}

/**
 * A `--import` module that records every module a process resolves (ESM, and CommonJS packages
 * imported from ESM, such as prom-client), and gives `globalThis.modulesLoaded()` to read them:
 * write it with {@link writeModuleProbe}, then run `node --import <probe> script.mjs`.
 */
const PROBE_REGISTER = `import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";
const { port1, port2 } = new MessageChannel();
const loaded = new Set();
let flushed;
port1.on("message", (m) => {
  if (m.url !== undefined) loaded.add(m.url);
  else flushed?.();
});
port1.unref();
register(new URL("./probe-hooks.mjs", import.meta.url), {
  data: { port: port2 },
  transferList: [port2],
});
// Messages on one port keep their order: the answer to "flush" comes after every URL before it.
globalThis.modulesLoaded = () =>
  new Promise((resolve) => {
    port1.ref();
    flushed = () => {
      port1.unref();
      resolve([...loaded]);
    };
    port1.postMessage("flush");
  });
`;

const PROBE_HOOKS = `let port;
export async function initialize(data) {
  port = data.port;
  port.on("message", () => port.postMessage({ flushed: true }));
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage({ url: r.url });
  return r;
}
`;

/** Writes the module probe into `dir`; returns the path to pass to `--import`. */
export function writeModuleProbe(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "probe-hooks.mjs"), PROBE_HOOKS);
  const file = join(dir, "probe.mjs");
  writeFileSync(file, PROBE_REGISTER);
  return file;
}

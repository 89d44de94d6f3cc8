import { build } from "esbuild";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { BadFunctionError } from "../errors/index.js";
import type { Stratus } from "../client/index.js";
import type { DagSpec } from "../protocol/index.js";

/** What `deploy` registered. */
export interface DeployReport {
  functions: string[];
  dags: string[];
  bytes: number;
}

/**
 * Bundles a module with esbuild (its imports included) and registers every exported function
 * under its export name; an exported `dags` object (`{ name: { functions, edges } }`) registers
 * those DAGs too. The bundle ships once; each executor evaluates it once per version.
 *
 * @example
 * ```ts
 * await deploy(cloud, "./functions.ts"); // { functions: ["inc", "square"], dags: ["pipeline"] }
 * ```
 */
export async function deploy(cloud: Stratus, file: string): Promise<DeployReport> {
  const entry = resolve(file);
  let code: string;
  try {
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      write: false,
      logLevel: "silent",
    });
    code = out.outputFiles[0]?.text ?? "";
  } catch (e) {
    throw new BadFunctionError(`cannot bundle ${file}: ${(e as Error).message}`);
  }
  // Evaluated here once to learn which exports are functions: the same code runs on executors.
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the user's own bundle, run as the executors will run it
    const fn = new Function("module", "exports", "require", code) as (
      m: typeof mod,
      e: Record<string, unknown>,
      r: NodeJS.Require,
    ) => void;
    fn(mod, mod.exports, createRequire(entry));
  } catch (e) {
    throw new BadFunctionError(`${file} throws when loaded: ${(e as Error).message}`);
  }
  const functions = Object.keys(mod.exports).filter((k) => typeof mod.exports[k] === "function");
  if (functions.length === 0) throw new BadFunctionError(`${file} exports no functions`);
  for (const name of functions) await cloud.registerModule(name, code, name);
  const dags = (mod.exports.dags ?? {}) as Record<string, DagSpec>;
  for (const [name, spec] of Object.entries(dags)) await cloud.registerDag(name, spec);
  return { functions, dags: Object.keys(dags), bytes: code.length };
}

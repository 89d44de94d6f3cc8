/**
 * Loads the native and protobuf packages lazily, through `require`, instead of importing them.
 *
 * - Only code that uses a model pays for loading onnxruntime's 45 MB native library.
 * - Functions that import this folder are bundled by `stratus deploy` (esbuild, CommonJS): a
 *   static import would pull the native addon into the bundle, which cannot work. A `require`
 *   made through a variable is left alone by esbuild, and the executor resolves it from the
 *   Stratus install, so every function of a worker shares one copy of each package.
 */
import { createRequire } from "node:module";

let req: NodeJS.Require | undefined;

/** `require(name)` from this install, in ESM (tsx, dist) or inside a CommonJS bundle. */
export function loadPackage<T>(name: string): T {
  // In a bundle `require` is the executor's own; in ESM there is none, so make one.
  req ??= typeof require === "function" ? require : createRequire(import.meta.url);
  return req(name) as T;
}

/** Where a package's file is on disk (`require.resolve`), e.g. a model shipped inside it. */
export function resolvePackageFile(name: string): string {
  req ??= typeof require === "function" ? require : createRequire(import.meta.url);
  return req.resolve(name);
}

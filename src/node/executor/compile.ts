/**
 * Turns shipped function text into a callable, inside a worker. `vm.runInThisContext` rather than
 * `new Function`: the code still sees the worker's globals, but gets a filename, so user stack
 * traces read `at inc (stratus:inc@3:2:11)` with the line numbers of the source as written.
 */
import { createRequire } from "node:module";
import { runInThisContext } from "node:vm";
import { BadFunctionError } from "../../errors/index.js";
import type { FunctionCode } from "./types.js";

/** A user function: `(ctx, ...args) => result`, sync or async. */
export type UserFunction = (ctx: unknown, ...args: unknown[]) => unknown;

// Bundles may `require` node builtins (and packages next to this install); resolve from here.
const requireFromHere = createRequire(import.meta.url);

/** Evaluates `text`, whose first line starts with `prefix` characters of our own wrapping. */
function evaluate(text: string, filename: string, prefix: number): unknown {
  return runInThisContext(text, { filename, columnOffset: -prefix, displayErrors: false });
}

/** Anonymous functions (arrows) would show up as `<anonymous>` in stacks; give them the name. */
function named<T>(fn: T, name: string): T {
  if (typeof fn === "function" && fn.name === "") {
    Object.defineProperty(fn, "name", { value: name, configurable: true });
  }
  return fn;
}

/**
 * Evaluates function source: the `toString()` of an arrow, `function` or async function, or a
 * method shorthand (`inc(ctx, x) { … }`, which only parses inside an object literal).
 */
export function compileSource(source: string, filename: string, name: string): UserFunction {
  let fn: unknown;
  try {
    // The newline keeps a trailing `// comment` from swallowing the parenthesis.
    fn = evaluate(`(${source}\n)`, filename, 1);
  } catch (first) {
    if (!(first instanceof SyntaxError)) throw first;
    const obj = evaluate(`({${source}\n})`, filename, 2) as Record<string, unknown>;
    fn = Object.values(obj)[0];
  }
  if (typeof fn !== "function") throw new TypeError("source does not evaluate to a function");
  return named(fn as UserFunction, name);
}

/** Evaluates a CommonJS bundle and picks its export. */
export function compileModule(code: FunctionCode, filename: string): UserFunction {
  const factory = evaluate(
    `(function (module, exports, require) {${code.source}\n})`,
    filename,
    38,
  ) as (m: { exports: unknown }, e: unknown, r: NodeJS.Require) => void;
  const mod: { exports: unknown } = { exports: {} };
  factory(mod, mod.exports, requireFromHere);
  const exports = mod.exports as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const picked =
    code.exportName !== undefined
      ? (exports as Record<string, unknown>)[code.exportName]
      : typeof exports === "function"
        ? exports
        : (exports as Record<string, unknown> | null)?.default;
  if (typeof picked !== "function") {
    const which =
      code.exportName === undefined ? "a default export" : `export "${code.exportName}"`;
    throw new TypeError(`the module has no function ${which}`);
  }
  return picked as UserFunction;
}

/** Compiles `code` (and its init), reporting any failure as `BAD_FUNCTION`. */
export function compile(code: FunctionCode): { fn: UserFunction; init?: UserFunction } {
  const filename = `stratus:${code.name}@${code.version}`;
  try {
    const fn =
      code.kind === "module"
        ? compileModule(code, filename)
        : compileSource(code.source, filename, code.name);
    if (code.init === undefined) return { fn };
    return { fn, init: compileSource(code.init, `${filename}/init`, `${code.name}.init`) };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    throw new BadFunctionError(`function ${code.name} cannot be compiled: ${err.message}`, {
      details: { name: code.name, version: code.version, stack: err.stack },
    });
  }
}

/**
 * Registration-time checks of function source. Functions are shipped as text and compiled in a
 * worker, far from the module they were written in, so a reference to anything but an executor
 * global would fail only later, at run time, on some node. Catching it here turns that into a
 * `BAD_FUNCTION` error for the person registering the function.
 */
import { analyze } from "eslint-scope";
import { latestEcmaVersion, parse } from "espree";
import type { EsNode, EspreeSyntaxError } from "espree";
import { BadFunctionError } from "../../errors/index.js";
import type { FunctionCode } from "./types.js";

/**
 * Names user functions may reference freely: the globals of a worker thread (the same Node as this
 * thread, so this thread's `globalThis` is an accurate list) plus `__name`, the keep-names helper
 * that tsx/esbuild insert into transformed functions and that workers define.
 */
export const EXECUTOR_GLOBALS: readonly string[] = Object.freeze([
  ...new Set([...Object.getOwnPropertyNames(globalThis), "__name"]),
]);

/** Options of {@link validateFunctionSource}. */
export interface ValidateOptions {
  /** Names free variables may refer to; replaces {@link EXECUTOR_GLOBALS} when given. */
  allowedGlobals?: Iterable<string>;
  /** Name used in error messages; defaults to the function's own name. */
  name?: string;
}

type Parsed = { ok: true; fn: EsNode; ast: EsNode } | { ok: false; error: EspreeSyntaxError };

function tryParse(text: string, prefixLen: number, pick: (ast: EsNode) => EsNode | null): Parsed {
  let ast: EsNode & { body: EsNode[] };
  try {
    ast = parse(text, { ecmaVersion: "latest", sourceType: "script", range: true });
  } catch (e) {
    const error = e as EspreeSyntaxError;
    // Report positions in the caller's text, not in our wrapping.
    if (error.lineNumber === 1) error.column -= prefixLen;
    error.index -= prefixLen;
    return { ok: false, error };
  }
  const stmt = ast.body.length === 1 ? (ast.body[0] as EsNode) : undefined;
  const fn = stmt === undefined ? null : pick(stmt);
  if (fn !== null) return { ok: true, fn, ast };
  // Not a function: keep what it is instead, for the error message.
  const what = stmt === undefined ? "several statements" : describe(stmt);
  return { ok: true, fn: { type: what }, ast };
}

function describe(stmt: EsNode): string {
  const e = stmt.type === "ExpressionStatement" ? (stmt.expression as EsNode) : stmt;
  return e.type === "ObjectExpression" ? "an object" : `a ${e.type}`;
}

const isFunction = (n: unknown): boolean => {
  const t = (n as EsNode | undefined)?.type;
  return t === "FunctionExpression" || t === "ArrowFunctionExpression";
};

/** `(<source>)`: an arrow, `function` or `async function` expression. */
function asExpression(source: string): Parsed {
  return tryParse(`(${source}\n)`, 1, (stmt) =>
    stmt.type === "ExpressionStatement" && isFunction(stmt.expression)
      ? (stmt.expression as EsNode)
      : null,
  );
}

/** `({ <source> })`: method shorthand such as `inc(ctx, x) { … }`, exactly one plain method. */
function asMethod(source: string): Parsed {
  return tryParse(`({${source}\n})`, 2, (stmt) => {
    const obj = stmt.type === "ExpressionStatement" ? (stmt.expression as EsNode) : null;
    const props = obj?.type === "ObjectExpression" ? (obj.properties as EsNode[]) : [];
    const p = props.length === 1 ? props[0] : undefined;
    return p !== undefined && p.method === true && p.kind === "init" && isFunction(p.value)
      ? (p.value as EsNode)
      : null;
  });
}

function ownName(fn: EsNode | undefined, source: string): string {
  const id = fn?.id as { name?: string } | null | undefined;
  if (typeof id?.name === "string") return id.name;
  const m = /^\s*(?:async\s+)?\*?\s*(?!function\b)([\p{L}_$][\p{L}\p{N}_$]*)\s*\(/u.exec(source);
  return m?.[1] ?? "(anonymous)";
}

function list(names: string[]): string {
  const q = names.map((n) => JSON.stringify(n));
  return q.length === 1 ? q[0]! : `${q.slice(0, -1).join(", ")} and ${q.at(-1)!}`;
}

/**
 * Checks that `source` is a self-contained function: it parses as a function expression (or a
 * single method shorthand) and its free variables are all executor globals.
 *
 * @throws BadFunctionError on a syntax error (with line and column), a non-function, or a free
 *   variable (named in the message).
 * @example
 * ```ts
 * validateFunctionSource("(ctx, x) => Math.max(x, 0)"); // { ok: true }
 * const limit = 3;
 * validateFunctionSource(((ctx: unknown, x: number) => x + limit).toString());
 * // throws BAD_FUNCTION: function "(anonymous)" uses "limit", which does not exist where …
 * ```
 */
export function validateFunctionSource(source: string, opts: ValidateOptions = {}): { ok: true } {
  const nameOf = (fn?: EsNode): string => opts.name ?? ownName(fn, source);
  if (typeof source !== "string" || source.trim() === "") {
    throw new BadFunctionError(`function ${JSON.stringify(nameOf())} has no source`, {
      details: { name: nameOf() },
    });
  }
  let parsed = asExpression(source);
  if (!parsed.ok || !isFunction(parsed.fn)) {
    const method = asMethod(source);
    // Keep the expression reading unless the shorthand one does better: it is a function, or it
    // parses where the expression did not, or both fail and it got further (the author's intent).
    if (
      method.ok
        ? isFunction(method.fn) || !parsed.ok
        : !parsed.ok && method.error.index > parsed.error.index
    ) {
      parsed = method;
    }
  }
  const label = (fn?: EsNode): string => JSON.stringify(nameOf(fn));
  if (!parsed.ok) {
    const { message, lineNumber, column } = parsed.error;
    throw new BadFunctionError(
      `function ${label()} does not parse: ${message.replace(/^Line \d+: /, "")} ` +
        `(line ${lineNumber}, column ${column})`,
      { details: { name: nameOf(), line: lineNumber, column } },
    );
  }
  if (!isFunction(parsed.fn)) {
    throw new BadFunctionError(
      `function ${label()} is not a function expression (it is ${parsed.fn.type}); ` +
        "register a function such as (ctx, x) => x + 1",
      { details: { name: nameOf() } },
    );
  }
  const allowed = new Set(opts.allowedGlobals ?? EXECUTOR_GLOBALS);
  const scope = analyze(parsed.ast, { ecmaVersion: latestEcmaVersion, sourceType: "script" });
  const free = [
    ...new Set(
      (scope.globalScope?.through ?? [])
        .map((r) => r.identifier.name)
        .filter((n) => !allowed.has(n)),
    ),
  ];
  if (free.length > 0) {
    const verb = free.length === 1 ? "which does not exist" : "which do not exist";
    throw new BadFunctionError(
      `function ${label(parsed.fn)} uses ${list(free)}, ${verb} where functions run ` +
        "(functions are shipped as source: pass values as arguments or read them from storage)",
      { details: { name: nameOf(parsed.fn), free } },
    );
  }
  return { ok: true };
}

/**
 * Checks a whole {@link FunctionCode} before registration: source mode validates the function and
 * its `init`; module mode (an esbuild CommonJS bundle, which legitimately uses `require`) is only
 * checked to parse.
 *
 * @example
 * ```ts
 * validateFunctionCode({ name: "inc", version: "1", kind: "source", source: "(ctx, x) => x + 1" });
 * ```
 */
export function validateFunctionCode(code: FunctionCode): { ok: true } {
  if (code.kind === "module") {
    try {
      parse(code.source, { ecmaVersion: "latest", sourceType: "commonjs" });
    } catch (e) {
      const err = e as EspreeSyntaxError;
      throw new BadFunctionError(
        `module of function ${JSON.stringify(code.name)} does not parse: ${err.message} ` +
          `(line ${err.lineNumber}, column ${err.column})`,
        { details: { name: code.name, line: err.lineNumber, column: err.column } },
      );
    }
  } else {
    validateFunctionSource(code.source, { name: code.name });
  }
  if (code.init !== undefined) validateFunctionSource(code.init, { name: `${code.name}.init` });
  return { ok: true };
}

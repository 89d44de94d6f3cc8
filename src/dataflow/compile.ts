/**
 * Stage functions as shipped source: the interpreter (runtime.ts), the group's operator specs as
 * a literal, and each operator's own function source. Registered like any self-contained
 * function, so the registry checks it (a captured variable is refused with BAD_FUNCTION, naming it).
 */
import { BadFlowError } from "../errors/index.js";
import type { OpSpec } from "./ops.js";
import type { PlannedFunction } from "./plan.js";
import { runGroup } from "./runtime.js";

/** An operator's code as the builder kept it. */
export interface OpCode {
  fn?: (...a: never[]) => unknown;
  init?: (...a: never[]) => unknown;
}

/** The source of one planned function's code. */
export function stageSource(f: PlannedFunction, code: ReadonlyMap<string, OpCode>): string {
  const fns: string[] = [];
  for (const op of f.spec.ops) {
    // A route runs its lookup's key function.
    const owner = op.kind === "route" ? (op.of as string) : op.id;
    const fn = op.fn === true ? code.get(owner)?.fn : undefined;
    if (op.fn === true && fn === undefined)
      throw new BadFlowError(`${op.kind} ${op.id} has no function`);
    if (fn !== undefined) fns.push(`${JSON.stringify(op.id)}: (${source(op, fn)}\n)`);
  }
  return [
    "async function (ctx, ...args) {",
    `  const run = (${runGroup.toString()}\n);`,
    `  return run(${JSON.stringify(f.spec)}, {${fns.join(", ")}}, ctx, args);`,
    "}",
  ].join("\n");
}

/** The source of the function's `init`: each operator's init, keyed by operator; or undefined. */
export function initSource(
  f: PlannedFunction,
  code: ReadonlyMap<string, OpCode>,
): string | undefined {
  const inits: string[] = [];
  for (const op of f.spec.ops) {
    const init = op.init === true ? code.get(op.id)?.init : undefined;
    if (init !== undefined) inits.push(`${JSON.stringify(op.id)}: (${source(op, init)}\n)`);
  }
  if (inits.length === 0) return undefined;
  return [
    "async function (ctx) {",
    `  const inits = {${inits.join(", ")}};`,
    "  const state = {};",
    "  for (const k of Object.keys(inits)) state[k] = await inits[k](ctx);",
    "  return state;",
    "}",
  ].join("\n");
}

/** A function's source; method shorthand (`f(ctx, row) {…}`) does not parse as an expression. */
function source(op: OpSpec, fn: (...a: never[]) => unknown): string {
  const s = fn.toString();
  if (/^(async\s+)?(?!function\b)(?!async\b)[A-Za-z_$][\w$]*\s*\([^)]*\)\s*\{/.test(s)) {
    throw new BadFlowError(
      `${op.kind} ${op.id}: write the function as an arrow or a function expression, not a method`,
    );
  }
  return s;
}

/** A function value whose `toString()` is `src`: how `register` ships generated source. */
export function shipped(src: string): () => void {
  const f = (): void => undefined;
  f.toString = () => src;
  return f;
}

/** Operators a function runs, for messages and metadata. */
export function opNames(f: PlannedFunction): string[] {
  return f.spec.ops.map((o) => o.id);
}

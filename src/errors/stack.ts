import { isStratusError } from "./base.js";

/**
 * Gives an error that came back from a function the stack a reader wants: the function's own
 * stack (kept in `details.stack` by the executor) with the caller's frames appended after it,
 * the way a `cause` chain reads from the deepest frame out. `site` is an `Error` made where the
 * caller's request started, before any await, so its frames are the caller's. Errors without a
 * function stack are returned as they are.
 *
 * @example
 * ```ts
 * const site = new Error();
 * try { return await send(); } catch (e) { throw withCallerStack(e, site); }
 * // e.stack: "Error: kaboom\n    at deepInside (<function>)\n    at async callerSite (app.ts:3:5)"
 * ```
 */
export function withCallerStack(e: unknown, site: Error): unknown {
  if (!isStratusError(e) || e.code !== "FUNCTION_ERROR") return e;
  const remote = e.details?.["stack"];
  if (typeof remote !== "string" || remote.length === 0) return e;
  const frames = (site.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
  e.stack = frames.length === 0 ? remote : `${remote}\n${frames.join("\n")}`;
  return e;
}

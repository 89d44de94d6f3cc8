/**
 * Turns whatever user code threw into the error message a worker posts. User code may throw any
 * value at all: a string, `undefined`, a Symbol, a null-prototype object (no `toString`), a Proxy
 * whose every trap throws, an Error whose `message` getter or `toString` throws. Every read of the
 * thrown value is therefore guarded: a throw while describing a failure must never escape, since
 * that would leave the invocation unanswered (its caller would wait for the time limit) or crash
 * the worker and everything queued on it.
 */
import { fileURLToPath } from "node:url";
import { FunctionError, StratusError, isStratusError, toWireError } from "../../errors/index.js";
import type { WireError } from "../../errors/index.js";
import type { ErrMsg } from "./types.js";

/** `f()`, or `fallback` when it throws. */
function guard<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

const asString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** A short, never-throwing description of a thrown value that is not an Error. */
export function describeThrown(e: unknown): string {
  switch (typeof e) {
    case "string":
      return e;
    case "undefined":
      return "undefined";
    case "symbol":
      return guard(() => e.toString(), "a Symbol");
    case "object":
      if (e === null) return "null";
      break;
    case "function":
      return guard(() => `a function ${asString(e.name) ?? ""}`.trimEnd(), "a function");
    default:
      return guard(() => String(e), typeof e);
  }
  // Objects: their own toString when it gives a useful string, else JSON, else the tag.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a user's own toString is the point
  const text = guard(() => asString(String(e)), undefined);
  if (text !== undefined && text !== "[object Object]") return text;
  const json = guard(() => asString(JSON.stringify(e)), undefined);
  if (json !== undefined) return json.length > 500 ? `${json.slice(0, 500)}…` : json;
  return guard(() => Object.prototype.toString.call(e), "an object");
}

/** Frames of the worker's own files say nothing to the function's author. */
const HERE = fileURLToPath(new URL("./worker", import.meta.url));

function userStack(stack: string | undefined): string | undefined {
  if (stack === undefined) return undefined;
  const lines = stack.split("\n");
  const cut = lines.findIndex((l) => l.includes(HERE));
  return cut < 0 ? stack : lines.slice(0, cut).join("\n");
}

/** Name, message and stack of a thrown value, read once each, each read guarded. */
function anatomy(e: unknown): { name: string; message: string; stack: string | undefined } {
  const isError = guard(() => e instanceof Error, false);
  if (!isError) {
    const tag = e === null ? "null" : typeof e;
    return { name: `thrown ${tag}`, message: describeThrown(e), stack: undefined };
  }
  const err = e as Error;
  const name = guard(() => asString(err.name), undefined) ?? "Error";
  const raw = guard(() => err.message as unknown, undefined);
  const message = asString(raw) ?? (raw === undefined ? "" : describeThrown(raw));
  return { name, message, stack: guard(() => asString(err.stack), undefined) };
}

/**
 * The message a worker posts for a failed invocation. A StratusError (a host call's storage error,
 * a nested call's failure) keeps its code; anything else user code threw becomes FUNCTION_ERROR
 * with the user's own message, name and stack. Never throws, and the result always clones.
 */
export function failure(fn: string, e: unknown, prefix = ""): Pick<ErrMsg, "e"> {
  const w = guard(() => stratusWire(e, prefix), undefined) ?? userWire(fn, e, prefix);
  return { e: w };
}

function stratusWire(e: unknown, prefix: string): WireError | undefined {
  if (!isStratusError(e)) return undefined;
  const w = toWireError(
    prefix === ""
      ? e
      : new StratusError(e.code, prefix + e.message, {
          retryable: e.retryable,
          details: e.details,
        }),
    true,
  );
  // Rebuilt from primitives: user code may have hung anything on a caught error's details.
  const out: WireError = { code: w.code, message: String(w.message), retryable: w.retryable };
  if (typeof w.stack === "string") out.stack = w.stack;
  if (w.details !== undefined) {
    const details = guard(() => structuredClone(w.details), undefined);
    if (details !== undefined) out.details = details;
  }
  return out;
}

function userWire(fn: string, e: unknown, prefix: string): WireError {
  const { name, message, stack } = anatomy(e);
  const user = userStack(stack);
  const details: Record<string, unknown> = { name, function: fn };
  if (user !== undefined) details.stack = user;
  const w = toWireError(new FunctionError(prefix + message, { details }));
  if (user !== undefined) w.stack = user;
  return w;
}

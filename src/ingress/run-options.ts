import type { IncomingMessage } from "node:http";
import { InvalidArgumentError } from "../errors/index.js";
import type { WireRunOptions } from "../protocol/index.js";

const OPTION_KEYS = ["consistency", "timeoutMs", "future", "requestId"] as const;

/**
 * A run's options from the request: the body's `options` field, and the same choices made by
 * the request's headers and query: `?future=1`, the level (`Stratus-Consistency` header or
 * `?consistency=`), and the request id of an exactly-once run (`Idempotency-Key` header, which
 * makes the run `read-atomic` unless another level is named: a repeated request with the same
 * key then returns the result the first one committed). A choice made twice differently is
 * refused rather than one silently winning. The gateway checks what the values mean.
 *
 * @example
 * ```ts
 * runOptions(req, url, { consistency: "causal" }); // { consistency: "causal" }
 * ```
 */
export function runOptions(
  req: IncomingMessage,
  url: URL,
  body: unknown,
): WireRunOptions | undefined {
  const out: Record<string, unknown> = {};
  if (body !== undefined) {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw InvalidArgumentError.field("options", "must be an object");
    }
    for (const [k, v] of Object.entries(body)) {
      if (!(OPTION_KEYS as readonly string[]).includes(k)) {
        throw InvalidArgumentError.field(
          `options.${k.slice(0, 64)}`,
          `is not an option; use ${OPTION_KEYS.join(", ")}`,
        );
      }
      out[k] = v;
    }
  }
  const set = (k: string, v: unknown, from: string): void => {
    if (out[k] !== undefined && out[k] !== v) {
      throw InvalidArgumentError.field(
        from,
        `says ${JSON.stringify(v)} but options.${k} says ${JSON.stringify(out[k])}`,
      );
    }
    out[k] = v;
  };
  const future = url.searchParams.get("future");
  if (future === "1" || future === "true") set("future", true, "?future");
  const header = headerValue(req, "stratus-consistency");
  if (header !== undefined) set("consistency", header, "Stratus-Consistency");
  const query = url.searchParams.get("consistency");
  if (query !== null) set("consistency", query, "?consistency");
  // W3C trace context: the run's spans join the caller's trace (the gateway checks its form).
  const traceparent = headerValue(req, "traceparent");
  if (traceparent !== undefined) set("traceparent", traceparent.trim(), "traceparent");
  const key = headerValue(req, "idempotency-key");
  if (key !== undefined) {
    if (key.length === 0 || key.length > 128) {
      throw InvalidArgumentError.field("Idempotency-Key", "must be 1 to 128 characters");
    }
    set("requestId", key, "Idempotency-Key");
  }
  if (out.requestId !== undefined) {
    out.consistency ??= "read-atomic";
    if (out.consistency !== "read-atomic") {
      throw InvalidArgumentError.field(
        "Idempotency-Key",
        `makes a run exactly-once, which needs consistency read-atomic, not ${String(out.consistency)}`,
      );
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

import { isStratusError } from "./base.js";
import { REACTIONS, isErrorCode } from "./codes.js";
import type { ErrorCode, Reaction } from "./codes.js";

/**
 * What to do about `e`, a StratusError or its wire form: the one retry decision of the client,
 * the dispatcher, transactions and the executor pool. A `relaunch` code (`NODE_LOST`,
 * `SNAPSHOT_CONFLICT`, `TXN_FENCED`) is relaunched whatever the error says; otherwise the error's
 * own `retryable` decides, which defaults to its code's reaction (see `REACTIONS`). Anything else
 * (not a Stratus error, an unknown code) is `fail`.
 *
 * @example
 * ```ts
 * reaction(new NodeLostError("node n2 was lost")); // "relaunch"
 * reaction(new StorageUnavailableError("Redis unavailable")); // "retry"
 * reaction(new StorageUnavailableError("the log failed", { retryable: false })); // "fail"
 * reaction(new BadDagError("cycle")); // "fail"
 * ```
 */
export function reaction(e: unknown): Reaction {
  let code: ErrorCode;
  let retryable: unknown;
  if (isStratusError(e)) {
    code = e.code;
    retryable = e.retryable;
  } else {
    const w = e as { code?: unknown; retryable?: unknown } | null | undefined;
    if (!isErrorCode(w?.code)) return "fail";
    code = w.code;
    retryable = w.retryable;
  }
  if (REACTIONS[code] === "relaunch") return "relaunch";
  return retryable === true ? "retry" : "fail";
}

/** Options of {@link backoffMs}. */
export interface BackoffOptions {
  /** The first wait. @default 100 */
  baseMs?: number;
  /** The longest wait. @default 5000 */
  maxMs?: number;
}

/**
 * How long to wait before retry number `attempt` (from 0): doubling from `baseMs`, at most
 * `maxMs`. Every retry loop in Stratus waits by it.
 *
 * @example
 * ```ts
 * backoffMs(0); // 100
 * backoffMs(3); // 800
 * backoffMs(10); // 5000
 * ```
 */
export function backoffMs(attempt: number, o: BackoffOptions = {}): number {
  const base = o.baseMs ?? 100;
  const max = o.maxMs ?? 5_000;
  return Math.min(base * 2 ** Math.max(0, attempt), max);
}

/**
 * The stable error codes, and what a caller does about each: the one table every retry decision
 * (client, dispatcher, transactions, executor pool) reads, through `reaction` in retry.ts.
 */

/** Every stable error code Stratus emits. New codes are appended, never renamed. */
export const ERROR_CODES = [
  "INTERNAL",
  "INVALID_ARGUMENT",
  "INVALID_KEY",
  "VALUE_TOO_LARGE",
  "LATTICE_TYPE_MISMATCH",
  "BAD_ENCODING",
  "STORAGE_UNAVAILABLE",
  "CLOSED",
  "TIMEOUT",
  "UNAUTHORIZED",
  "BAD_FRAME",
  "BAD_FUNCTION",
  "FUNCTION_ERROR",
  "FUNCTION_TIMEOUT",
  "FUNCTION_OOM",
  "NO_SUCH_FUNCTION",
  "NO_SUCH_DAG",
  "BAD_DAG",
  "NO_RESOURCES",
  "NODE_LOST",
  "OVERLOADED",
  "BAD_FLOW",
  "SCHEMA_MISMATCH",
  "UNKNOWN_COLUMN",
  "BAD_TENSOR",
  "NO_SUCH_MODEL",
  "TXN_ABORTED",
  "TXN_FENCED",
  "CANCELLED",
  "SNAPSHOT_CONFLICT",
  "NOT_FOUND",
] as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<unknown> = new Set(ERROR_CODES);

/** True for one of {@link ERROR_CODES} (a code from the wire may be anything). */
export function isErrorCode(c: unknown): c is ErrorCode {
  return KNOWN.has(c);
}

/**
 * What a caller does about an error:
 * - `retry`: send the same request again (same request id). The failed attempt did nothing, or
 *   its outcome is unknown and the request is idempotent (a merge, a run with a request id).
 * - `relaunch`: start the run again as a new attempt: a fresh session or snapshot, a newer
 *   epoch (which fences the old one), away from a lost node.
 * - `fail`: give up; the same request would fail the same way.
 */
export type Reaction = "retry" | "relaunch" | "fail";

/**
 * The reaction to each code. An error's `retryable` defaults to whether its code's reaction is
 * anything but `fail`; the code that raises it may say otherwise for one error (a store whose
 * log failed for good raises a `STORAGE_UNAVAILABLE` that is not retryable; a function that
 * lost the worker before it ran raises a retryable `INTERNAL`). A `relaunch` code is relaunched
 * whatever the error says: a new attempt is what makes it safe.
 */
export const REACTIONS: { readonly [C in ErrorCode]: Reaction } = Object.freeze({
  INTERNAL: "fail",
  INVALID_ARGUMENT: "fail",
  INVALID_KEY: "fail",
  VALUE_TOO_LARGE: "fail",
  LATTICE_TYPE_MISMATCH: "fail",
  BAD_ENCODING: "fail",
  STORAGE_UNAVAILABLE: "retry",
  // The connection dropped, or the component reached is shutting down: another connection or
  // node takes the request. A caller's own object that it closed says `retryable: false`.
  CLOSED: "retry",
  TIMEOUT: "retry",
  UNAUTHORIZED: "fail",
  BAD_FRAME: "fail",
  BAD_FUNCTION: "fail",
  FUNCTION_ERROR: "fail",
  FUNCTION_TIMEOUT: "fail",
  FUNCTION_OOM: "fail",
  NO_SUCH_FUNCTION: "fail",
  NO_SUCH_DAG: "fail",
  BAD_DAG: "fail",
  NO_RESOURCES: "retry",
  NODE_LOST: "relaunch",
  OVERLOADED: "retry",
  BAD_FLOW: "fail",
  SCHEMA_MISMATCH: "fail",
  UNKNOWN_COLUMN: "fail",
  BAD_TENSOR: "fail",
  NO_SUCH_MODEL: "fail",
  // Nothing the transaction wrote is visible: running the same request again is safe.
  TXN_ABORTED: "retry",
  // A newer attempt took over: the run's outcome is that attempt's, found by superseding it.
  TXN_FENCED: "relaunch",
  CANCELLED: "fail",
  SNAPSHOT_CONFLICT: "relaunch",
  // The key, future, run or route is not there: asking again finds it no more.
  NOT_FOUND: "fail",
});

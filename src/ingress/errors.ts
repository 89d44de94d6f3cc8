import { toWireError } from "../errors/index.js";
import type { ErrorCode, WireError } from "../errors/index.js";

/**
 * HTTP status of each error code. Caller mistakes are 4xx, a busy or closing cluster is 503 (so
 * proxies and clients retry elsewhere), a deadline is 504, a run someone cancelled is 499 (as
 * gRPC's CANCELLED maps to HTTP: the caller gave up, nothing failed), and a function that failed
 * is 500:
 *
 * | code                                                        | status |
 * | ----------------------------------------------------------- | ------ |
 * | INVALID_ARGUMENT, INVALID_KEY, BAD_DAG, BAD_FUNCTION, BAD_ENCODING, LATTICE_TYPE_MISMATCH | 400 |
 * | BAD_FLOW, SCHEMA_MISMATCH, UNKNOWN_COLUMN (dataflow)         | 400    |
 * | BAD_TENSOR (ML)                                             | 400    |
 * | UNAUTHORIZED                                                | 401    |
 * | NO_SUCH_FUNCTION, NO_SUCH_DAG, NO_SUCH_MODEL, NOT_FOUND     | 404    |
 * | VALUE_TOO_LARGE                                             | 413    |
 * | OVERLOADED                                                  | 429    |
 * | TXN_ABORTED, TXN_FENCED (retryable)                         | 409    |
 * | NO_RESOURCES, STORAGE_UNAVAILABLE, CLOSED, NODE_LOST        | 503    |
 * | SNAPSHOT_CONFLICT                                           | 409    |
 * | TIMEOUT, FUNCTION_TIMEOUT                                   | 504    |
 * | CANCELLED                                                   | 499    |
 * | FUNCTION_ERROR, FUNCTION_OOM, INTERNAL, BAD_FRAME           | 500    |
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INTERNAL: 500,
  INVALID_ARGUMENT: 400,
  INVALID_KEY: 400,
  VALUE_TOO_LARGE: 413,
  LATTICE_TYPE_MISMATCH: 400,
  BAD_ENCODING: 400,
  STORAGE_UNAVAILABLE: 503,
  CLOSED: 503,
  TIMEOUT: 504,
  UNAUTHORIZED: 401,
  BAD_FRAME: 500,
  BAD_FUNCTION: 400,
  FUNCTION_ERROR: 500,
  FUNCTION_TIMEOUT: 504,
  FUNCTION_OOM: 500,
  NO_SUCH_FUNCTION: 404,
  NO_SUCH_DAG: 404,
  BAD_DAG: 400,
  NO_RESOURCES: 503,
  NODE_LOST: 503,
  OVERLOADED: 429,
  BAD_FLOW: 400,
  SCHEMA_MISMATCH: 400,
  UNKNOWN_COLUMN: 400,
  BAD_TENSOR: 400,
  NO_SUCH_MODEL: 404,
  TXN_ABORTED: 409,
  TXN_FENCED: 409,
  CANCELLED: 499,
  SNAPSHOT_CONFLICT: 409,
  NOT_FOUND: 404,
};

/** The JSON body of an error answer: `{"error": {"code", "message", "retryable"}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; retryable: boolean };
}

/** An error (thrown or from a future's outcome) as an HTTP status and body; never a stack. */
export function errorAnswer(e: unknown): { status: number; body: ErrorBody } {
  const w: WireError = isWireError(e) ? e : toWireError(e);
  return {
    status: HTTP_STATUS[w.code] ?? 500,
    body: { error: { code: w.code, message: w.message, retryable: w.retryable } },
  };
}

function isWireError(e: unknown): e is WireError {
  return (
    typeof e === "object" &&
    e !== null &&
    !(e instanceof Error) &&
    typeof (e as WireError).code === "string" &&
    typeof (e as WireError).message === "string"
  );
}

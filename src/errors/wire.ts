import {
  BadEncodingError,
  ClosedError,
  InvalidArgumentError,
  InvalidKeyError,
  LatticeTypeMismatchError,
  StorageUnavailableError,
  StratusError,
  TimeoutError,
  ValueTooLargeError,
  ensureError,
  isStratusError,
} from "./base.js";
import type { ErrorOptions } from "./base.js";
import { isErrorCode } from "./codes.js";
import type { ErrorCode } from "./codes.js";
import { SnapshotConflictError } from "./consistency.js";
import { BadFlowError, SchemaMismatchError, UnknownColumnError } from "./dataflow.js";
import { BadTensorError, NoSuchModelError } from "./ml.js";
import {
  BadDagError,
  BadFrameError,
  BadFunctionError,
  CancelledError,
  FunctionError,
  FunctionOomError,
  FunctionTimeoutError,
  NoResourcesError,
  NoSuchDagError,
  NoSuchFunctionError,
  NodeLostError,
  NotFoundError,
  OverloadedError,
  UnauthorizedError,
} from "./runtime.js";
import { TxnAbortedError, TxnFencedError } from "./txn.js";

/** Plain-object form of an error, safe for msgpack, JSON and `postMessage`. */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
  stack?: string;
}

/** A class of one code: built from a message and options, as {@link fromWireError} does. */
export type ErrorClass = new (message: string, options?: ErrorOptions) => StratusError;

/**
 * The class of every code but `INTERNAL` (the base class), so that what {@link fromWireError}
 * rebuilds never depends on which modules a process happened to import. A code added to
 * `ERROR_CODES` without a class here does not compile.
 */
export const ERROR_CLASSES: { readonly [C in Exclude<ErrorCode, "INTERNAL">]: ErrorClass } =
  Object.freeze({
    INVALID_ARGUMENT: InvalidArgumentError,
    INVALID_KEY: InvalidKeyError,
    VALUE_TOO_LARGE: ValueTooLargeError,
    LATTICE_TYPE_MISMATCH: LatticeTypeMismatchError,
    BAD_ENCODING: BadEncodingError,
    STORAGE_UNAVAILABLE: StorageUnavailableError,
    CLOSED: ClosedError,
    TIMEOUT: TimeoutError,
    UNAUTHORIZED: UnauthorizedError,
    BAD_FRAME: BadFrameError,
    BAD_FUNCTION: BadFunctionError,
    FUNCTION_ERROR: FunctionError,
    FUNCTION_TIMEOUT: FunctionTimeoutError,
    FUNCTION_OOM: FunctionOomError,
    NO_SUCH_FUNCTION: NoSuchFunctionError,
    NO_SUCH_DAG: NoSuchDagError,
    BAD_DAG: BadDagError,
    NO_RESOURCES: NoResourcesError,
    NODE_LOST: NodeLostError,
    OVERLOADED: OverloadedError,
    BAD_FLOW: BadFlowError,
    SCHEMA_MISMATCH: SchemaMismatchError,
    UNKNOWN_COLUMN: UnknownColumnError,
    BAD_TENSOR: BadTensorError,
    NO_SUCH_MODEL: NoSuchModelError,
    TXN_ABORTED: TxnAbortedError,
    TXN_FENCED: TxnFencedError,
    CANCELLED: CancelledError,
    SNAPSHOT_CONFLICT: SnapshotConflictError,
    NOT_FOUND: NotFoundError,
  });

/** Flattens an error for the wire. Non-Stratus errors become `INTERNAL`. */
export function toWireError(e: unknown, withStack = false): WireError {
  const err = ensureError(e);
  const base: WireError = isStratusError(err)
    ? { code: err.code, message: err.message, retryable: err.retryable }
    : { code: "INTERNAL", message: err.message, retryable: false };
  if (isStratusError(err) && err.details !== undefined) base.details = err.details;
  if (withStack && err.stack !== undefined) base.stack = err.stack;
  return base;
}

/** Rebuilds an error received from the wire, as the class of its code. */
export function fromWireError(w: unknown): StratusError {
  const o = (typeof w === "object" && w !== null ? w : {}) as Partial<WireError>;
  const code: ErrorCode = isErrorCode(o.code) ? o.code : "INTERNAL";
  const message = typeof o.message === "string" ? o.message : "unknown error";
  const options: ErrorOptions = { retryable: o.retryable === true };
  if (typeof o.details === "object" && o.details !== null) options.details = o.details;
  const err =
    code === "INTERNAL"
      ? new StratusError(code, message, options)
      : new ERROR_CLASSES[code](message, options);
  if (typeof o.stack === "string") err.stack = o.stack;
  return err;
}

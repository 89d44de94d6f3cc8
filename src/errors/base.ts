/**
 * Typed errors shared by every subsystem.
 *
 * Codes, not classes, cross process and thread boundaries: {@link toWireError} flattens an error to
 * a plain object and {@link fromWireError} rebuilds the matching subclass on the other side, so a
 * caller can `catch (e) { if (e instanceof LatticeTypeMismatchError) … }` or test `e.code` no
 * matter where the error was raised.
 *
 * @example
 * ```ts
 * try {
 *   await store.put("k", SetLattice.of(["a"]));
 * } catch (e) {
 *   if (isStratusError(e) && e.code === "LATTICE_TYPE_MISMATCH") console.log(e.message);
 * }
 * ```
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
] as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const BRAND = Symbol.for("stratus.error");

/** Plain-object form of an error, safe for msgpack, JSON and `postMessage`. */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
  stack?: string;
}

/** Base class of every error Stratus raises on purpose. */
export class StratusError extends Error {
  override name = "StratusError";
  /** Stable, documented code; safe to branch on. */
  readonly code: ErrorCode;
  /** True when the same request may succeed if retried (e.g. storage briefly unavailable). */
  readonly retryable: boolean;
  /** Structured identifiers (key, function name, …) for logs and callers. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
    this.details = options?.details;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Options every StratusError subclass accepts. */
export interface ErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

/** A caller passed something malformed: an option out of range, a wrong type, an unknown name. */
export class InvalidArgumentError extends StratusError {
  override name = "InvalidArgumentError";
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
  }
  /** Builds the error for one named option or field. */
  static field(field: string, problem: string): InvalidArgumentError {
    return new InvalidArgumentError(`${field}: ${problem}`, { details: { field } });
  }
}

/** A key is empty, not a string, or longer than the configured limit. */
export class InvalidKeyError extends StratusError {
  override name = "InvalidKeyError";
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_KEY", message, options);
  }
}

/** A value's encoding exceeds the configured size limit. */
export class ValueTooLargeError extends StratusError {
  override name = "ValueTooLargeError";
  constructor(message: string, options?: ErrorOptions) {
    super("VALUE_TOO_LARGE", message, options);
  }
  static of(key: string, bytes: number, limit: number): ValueTooLargeError {
    return new ValueTooLargeError(
      `value for key ${JSON.stringify(key)} is ${bytes} bytes; the limit is ${limit}`,
      { details: { key, bytes, limit } },
    );
  }
}

/** A write tried to merge one lattice type into a key that holds another; nothing was changed. */
export class LatticeTypeMismatchError extends StratusError {
  override name = "LatticeTypeMismatchError";
  constructor(message: string, options?: ErrorOptions) {
    super("LATTICE_TYPE_MISMATCH", message, options);
  }
  static of(stored: string, incoming: string, key?: string): LatticeTypeMismatchError {
    return new LatticeTypeMismatchError(
      `cannot merge a ${incoming} lattice into a ${stored} lattice` +
        (key === undefined ? "" : ` at key ${JSON.stringify(key)}`),
      { details: { stored, incoming, ...(key === undefined ? {} : { key }) } },
    );
  }
}

/** Bytes that should hold an encoded lattice, value or message do not. */
export class BadEncodingError extends StratusError {
  override name = "BadEncodingError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_ENCODING", message, options);
  }
}

/** The storage backend cannot be reached or did not answer within the deadline. Retryable. */
export class StorageUnavailableError extends StratusError {
  override name = "StorageUnavailableError";
  constructor(message: string, options?: ErrorOptions) {
    super("STORAGE_UNAVAILABLE", message, { retryable: true, ...options });
  }
}

/** The object was closed; no further operations are accepted. */
export class ClosedError extends StratusError {
  override name = "ClosedError";
  constructor(message: string, options?: ErrorOptions) {
    super("CLOSED", message, options);
  }
}

/** An operation did not complete before its deadline. */
export class TimeoutError extends StratusError {
  override name = "TimeoutError";
  constructor(message: string, options?: ErrorOptions) {
    super("TIMEOUT", message, { retryable: true, ...options });
  }
}

type Ctor = new (message: string, options?: ErrorOptions) => StratusError;
const byCode = new Map<ErrorCode, Ctor>();

/**
 * Associates a subclass with its code so {@link fromWireError} rebuilds it. Subsystems that define
 * their own subclasses call this once at module load.
 */
export function registerErrorClass(code: ErrorCode, ctor: Ctor): void {
  byCode.set(code, ctor);
}

registerErrorClass("INVALID_ARGUMENT", InvalidArgumentError);
registerErrorClass("INVALID_KEY", InvalidKeyError);
registerErrorClass("VALUE_TOO_LARGE", ValueTooLargeError);
registerErrorClass("LATTICE_TYPE_MISMATCH", LatticeTypeMismatchError);
registerErrorClass("BAD_ENCODING", BadEncodingError);
registerErrorClass("STORAGE_UNAVAILABLE", StorageUnavailableError);
registerErrorClass("CLOSED", ClosedError);
registerErrorClass("TIMEOUT", TimeoutError);

/** True for any StratusError, including ones created in another realm or worker. */
export function isStratusError(e: unknown): e is StratusError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** Turns anything thrown into an Error, keeping StratusErrors as they are. */
export function ensureError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === "string" ? e : JSON.stringify(e));
}

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

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Rebuilds an error received from the wire, as the subclass registered for its code. */
export function fromWireError(w: unknown): StratusError {
  const o = (typeof w === "object" && w !== null ? w : {}) as Partial<WireError>;
  const code: ErrorCode =
    typeof o.code === "string" && KNOWN_CODES.has(o.code) ? o.code : "INTERNAL";
  const message = typeof o.message === "string" ? o.message : "unknown error";
  const options: ErrorOptions = { retryable: o.retryable === true };
  if (typeof o.details === "object" && o.details !== null) options.details = o.details;
  const ctor = byCode.get(code);
  const err =
    ctor !== undefined ? new ctor(message, options) : new StratusError(code, message, options);
  if (typeof o.stack === "string") err.stack = o.stack;
  return err;
}

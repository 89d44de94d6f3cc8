/**
 * Typed errors shared by every subsystem.
 *
 * Codes, not classes, cross process and thread boundaries: `toWireError` (wire.ts) flattens an
 * error to a plain object and `fromWireError` rebuilds the matching subclass on the other side,
 * so a caller can `catch (e) { if (e instanceof LatticeTypeMismatchError) … }` or test `e.code`
 * no matter where the error was raised.
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
import { REACTIONS } from "./codes.js";
import type { ErrorCode } from "./codes.js";

const BRAND = Symbol.for("stratus.error");

/** Base class of every error Stratus raises on purpose. */
export class StratusError extends Error {
  override name = "StratusError";
  /** Stable, documented code; safe to branch on. */
  readonly code: ErrorCode;
  /**
   * True when the same request may succeed if retried (e.g. storage briefly unavailable). By
   * default, whether the code's reaction is anything but `fail` (see `REACTIONS`).
   */
  readonly retryable: boolean;
  /** Structured identifiers (key, function name, …) for logs and callers. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? REACTIONS[code] !== "fail";
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

/**
 * The storage backend cannot be reached or did not answer within the deadline: the outcome of a
 * write is unknown. Retryable.
 */
export class StorageUnavailableError extends StratusError {
  override name = "StorageUnavailableError";
  constructor(message: string, options?: ErrorOptions) {
    super("STORAGE_UNAVAILABLE", message, options);
  }
}

/**
 * The object was closed; no further operations are accepted. Retryable (a dropped connection, a
 * component shutting down: another connection or node takes the request), unless the caller's
 * own object was closed.
 */
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
    super("TIMEOUT", message, options);
  }
}

/** True for any StratusError, including ones created in another realm or worker. */
export function isStratusError(e: unknown): e is StratusError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** Turns anything thrown into an Error, keeping StratusErrors as they are. */
export function ensureError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === "string" ? e : JSON.stringify(e));
}

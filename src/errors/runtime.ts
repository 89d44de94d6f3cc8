import { StratusError } from "./base.js";
import type { ErrorOptions } from "./base.js";

// Errors of the function runtime (transport, scheduling, executors), one class per code.

/** A connection presented a wrong or missing cluster token. */
export class UnauthorizedError extends StratusError {
  override name = "UnauthorizedError";
  constructor(message: string, options?: ErrorOptions) {
    super("UNAUTHORIZED", message, options);
  }
}

/** A frame was oversized or not a valid message; the connection that sent it is closed. */
export class BadFrameError extends StratusError {
  override name = "BadFrameError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_FRAME", message, options);
  }
}

/** A function cannot be registered: syntax error, free variable, not a function. */
export class BadFunctionError extends StratusError {
  override name = "BadFunctionError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_FUNCTION", message, options);
  }
}

/** User code threw; `details.stack` holds its stack. */
export class FunctionError extends StratusError {
  override name = "FunctionError";
  constructor(message: string, options?: ErrorOptions) {
    super("FUNCTION_ERROR", message, options);
  }
}

/** A function ran past its time limit; its worker was replaced. */
export class FunctionTimeoutError extends StratusError {
  override name = "FunctionTimeoutError";
  constructor(message: string, options?: ErrorOptions) {
    super("FUNCTION_TIMEOUT", message, options);
  }
}

/** A function ran past its memory limit; its worker was replaced. */
export class FunctionOomError extends StratusError {
  override name = "FunctionOomError";
  constructor(message: string, options?: ErrorOptions) {
    super("FUNCTION_OOM", message, options);
  }
}

/** No function is registered under that name. */
export class NoSuchFunctionError extends StratusError {
  override name = "NoSuchFunctionError";
  constructor(message: string, options?: ErrorOptions) {
    super("NO_SUCH_FUNCTION", message, options);
  }
}

/** No DAG is registered under that name. */
export class NoSuchDagError extends StratusError {
  override name = "NoSuchDagError";
  constructor(message: string, options?: ErrorOptions) {
    super("NO_SUCH_DAG", message, options);
  }
}

/** A DAG definition is invalid (cycle, unknown function, bad inputs). */
export class BadDagError extends StratusError {
  override name = "BadDagError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_DAG", message, options);
  }
}

/** No node with executors is available to run a call. */
export class NoResourcesError extends StratusError {
  override name = "NoResourcesError";
  constructor(message: string, options?: ErrorOptions) {
    super("NO_RESOURCES", message, options);
  }
}

/** The node running a call was lost and retries ran out. */
export class NodeLostError extends StratusError {
  override name = "NodeLostError";
  constructor(message: string, options?: ErrorOptions) {
    super("NODE_LOST", message, options);
  }
}

/** The receiver is over its queue limit; retry later. */
export class OverloadedError extends StratusError {
  override name = "OverloadedError";
  constructor(message: string, options?: ErrorOptions) {
    super("OVERLOADED", message, options);
  }
}

/**
 * An invocation was cancelled: another upstream of an `anyOf` function answered first (competitive
 * execution, where the run goes on with the winner's result and no caller sees it), or someone
 * cancelled the run (`stratus runs cancel`), which its caller then gets.
 */
export class CancelledError extends StratusError {
  override name = "CancelledError";
  constructor(message: string, options?: ErrorOptions) {
    super("CANCELLED", message, options);
  }
}

/**
 * What a request names is not there: a key with no value, a future nobody started (or whose
 * result expired), a run no longer in flight, an HTTP route that does not exist.
 *
 * @example
 * ```ts
 * throw new NotFoundError("no value under visits/home", { details: { key: "visits/home" } });
 * ```
 */
export class NotFoundError extends StratusError {
  override name = "NotFoundError";
  constructor(message: string, options?: ErrorOptions) {
    super("NOT_FOUND", message, options);
  }
}

/**
 * Errors: `StratusError` and its subclasses, each with a stable `code` that survives the wire.
 *
 * @example
 * ```ts
 * import { fromWireError, toWireError, NoSuchFunctionError } from "./errors/index.js";
 * const back = fromWireError(toWireError(new NoSuchFunctionError("no function inc")));
 * back instanceof NoSuchFunctionError; // true, back.code === "NO_SUCH_FUNCTION"
 * ```
 */
export * from "./base.js";
export * from "./runtime.js";
export * from "./dataflow.js";
export * from "./consistency.js";

/**
 * Errors: `StratusError` and its subclasses (every one of them, for every subsystem), each with a
 * stable `code` that survives the wire, and the one decision of what to do about each code.
 *
 * @example
 * ```ts
 * import { fromWireError, reaction, toWireError, NoSuchFunctionError } from "./errors/index.js";
 * const back = fromWireError(toWireError(new NoSuchFunctionError("no function inc")));
 * back instanceof NoSuchFunctionError; // true, back.code === "NO_SUCH_FUNCTION"
 * reaction(back); // "fail"
 * ```
 */
export * from "./codes.js";
export * from "./base.js";
export * from "./runtime.js";
export * from "./dataflow.js";
export * from "./consistency.js";
export * from "./txn.js";
export * from "./ml.js";
export * from "./wire.js";
export * from "./retry.js";
export * from "./stack.js";

import { StratusError } from "./base.js";
import type { ErrorOptions } from "./base.js";

// Errors of the dataflow layer (src/dataflow), one class per code.

/** A flow cannot be deployed: a cycle, no output, a stage of another flow, a bad option. */
export class BadFlowError extends StratusError {
  override name = "BadFlowError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_FLOW", message, options);
  }
}

/**
 * A row does not match its declared schema: an input row, or what a `map` returned. The message
 * and `details` name the operator and the column.
 */
export class SchemaMismatchError extends StratusError {
  override name = "SchemaMismatchError";
  constructor(message: string, options?: ErrorOptions) {
    super("SCHEMA_MISMATCH", message, options);
  }
}

/** An operator names a column its input does not have (a join, groupby or agg column). */
export class UnknownColumnError extends StratusError {
  override name = "UnknownColumnError";
  constructor(message: string, options?: ErrorOptions) {
    super("UNKNOWN_COLUMN", message, options);
  }
}

import { StratusError } from "./base.js";
import type { ErrorOptions } from "./base.js";

// Errors of the ML operators (src/ml), one class per code. They live here, not in src/ml, so a
// process that never loads ml/ still rebuilds them as their classes from the wire.

/**
 * A tensor given to a model has the wrong element type, rank, dimensions or length, or names no
 * input of the model. `details` names the model, the input, what was expected and what was given.
 */
export class BadTensorError extends StratusError {
  override name = "BadTensorError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_TENSOR", message, options);
  }
}

/** No model is saved under that name, or its bytes are missing or not what its manifest says. */
export class NoSuchModelError extends StratusError {
  override name = "NoSuchModelError";
  constructor(message: string, options?: ErrorOptions) {
    super("NO_SUCH_MODEL", message, options);
  }
}

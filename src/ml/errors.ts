/**
 * Errors of the ML operators. Codes, not classes, cross the wire: a caller that never loaded this
 * folder still sees `e.code === "BAD_TENSOR"` with the same details.
 */
import { StratusError, registerErrorClass } from "../errors/index.js";
import type { ErrorOptions } from "../errors/index.js";

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
registerErrorClass("BAD_TENSOR", BadTensorError);

/** No model is saved under that name, or its bytes are missing or not what its manifest says. */
export class NoSuchModelError extends StratusError {
  override name = "NoSuchModelError";
  constructor(message: string, options?: ErrorOptions) {
    super("NO_SUCH_MODEL", message, options);
  }
}
registerErrorClass("NO_SUCH_MODEL", NoSuchModelError);

import { StratusError } from "./base.js";
import type { ErrorOptions } from "./base.js";

// Errors of read-atomic transactions (src/txn), one class per code.

/**
 * A transaction could not commit (storage unavailable at the commit point, or it outlived its
 * time limit). Nothing it wrote is visible; retrying the whole transaction is safe.
 */
export class TxnAbortedError extends StratusError {
  override name = "TxnAbortedError";
  constructor(message: string, options?: ErrorOptions) {
    super("TXN_ABORTED", message, options);
  }
}

/**
 * This attempt of a run was superseded by a newer attempt (a retry after a crash or timeout), so
 * it can never commit. The newer attempt's outcome is the run's outcome.
 */
export class TxnFencedError extends StratusError {
  override name = "TxnFencedError";
  constructor(message: string, options?: ErrorOptions) {
    super("TXN_FENCED", message, options);
  }
}

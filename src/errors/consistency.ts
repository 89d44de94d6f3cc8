import { StratusError } from "./base.js";
import type { ErrorOptions } from "./base.js";

/**
 * A run at `transactional-causal` found no version of a key that fits the causal snapshot of
 * what it already read, or a version it pinned is gone. Retryable: the scheduler starts the run
 * again with a fresh snapshot.
 */
export class SnapshotConflictError extends StratusError {
  override name = "SnapshotConflictError";
  constructor(message: string, options?: ErrorOptions) {
    super("SNAPSHOT_CONFLICT", message, options);
  }
}

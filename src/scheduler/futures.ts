import type { HybridClock } from "../lattice/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import { ValueTooLargeError, isStratusError, toWireError } from "../errors/index.js";
import type { WireError } from "../errors/index.js";
import { KEYS } from "../protocol/index.js";
import type { FutureOutcome } from "../protocol/index.js";

export type { FutureOutcome };

/** How long a future's result is kept in storage by default: one hour. */
export const DEFAULT_FUTURE_RETENTION_MS = 3_600_000;

/**
 * Stores a future's outcome so that any client can read it by id, for `retentionMs`: then the
 * record expires, so futures nobody reads (or deletes) never pile up in storage.
 */
export async function storeFuture(
  store: Store,
  clock: HybridClock,
  id: string,
  outcome: FutureOutcome,
  retentionMs: number,
): Promise<void> {
  const key = KEYS.future + id;
  await store.put(key, LwwLattice.of(outcome, clock.now()));
  await store.expire(key, retentionMs);
}

/**
 * Why a future's result could not be stored, as the run's error. A result over the store's value
 * limit (a node takes results up to the frame limit, 127 MiB, the store 64 MiB by default) fails
 * the run with `VALUE_TOO_LARGE` saying so: a future readers could never find must not look
 * resolved to the one client it was pushed to.
 */
export function futureNotStored(err: unknown, bytes: number): WireError {
  if (!isStratusError(err) || err.code !== "VALUE_TOO_LARGE") return toWireError(err);
  const limit = err.details?.["limit"];
  const message = `the result is ${bytes} bytes, over the store's limit${typeof limit === "number" ? ` of ${limit} bytes` : ""} for a future's stored result; return less, or put it under a key and return the key`;
  return toWireError(new ValueTooLargeError(message, { details: { bytes, limit } }));
}

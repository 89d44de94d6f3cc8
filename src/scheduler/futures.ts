import type { HybridClock } from "../lattice/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
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

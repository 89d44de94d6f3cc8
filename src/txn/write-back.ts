import { isStratusError } from "../errors/index.js";
import { decodeLattice } from "../lattice/index.js";
import type { Lattice, Timestamp } from "../lattice/index.js";
import { userKey } from "../state/index.js";
import type { Store } from "../storage/index.js";
import type { TxnRecord } from "./record.js";

/**
 * Writes a committed record's versions into the plain keys, so that every plain reader (`get`,
 * `ctx.get` at any level, HTTP, the CLI) sees them. Idempotent: each version is a lattice whose
 * counters carry slot totals (see `CommitStamps`), so merging it again changes nothing. That lets
 * anyone finish a write-back a crashed committer left half done.
 *
 * A delete removes the plain key unless it holds a last-writer-wins value written after the
 * commit (a later write wins over it, as it would over a put).
 *
 * Returns the keys skipped because the plain key holds another kind of lattice (written there
 * by a plain writer after the commit checked it): that version stays only in the record until it
 * is collected. Throws `STORAGE_UNAVAILABLE` when storage failed (writing back again is safe).
 *
 * @example
 * ```ts
 * await writeBack(store, record); // after its putIfAbsent landed
 * ```
 */
export async function writeBack(
  store: Store,
  r: TxnRecord,
  decoded?: ReadonlyMap<string, Lattice | null>,
): Promise<string[]> {
  const ops = r.writes.map(async ([k, v]): Promise<string | undefined> => {
    const l = decoded?.get(k) ?? (v === null ? null : decodeLattice(v));
    try {
      if (l === null) await deleteIfOlder(store, userKey(k), r.ts);
      else await store.put(userKey(k), l);
      return undefined;
    } catch (e) {
      if (isStratusError(e) && e.code === "LATTICE_TYPE_MISMATCH") return k;
      throw e;
    }
  });
  const settled = await Promise.allSettled(ops);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return settled
    .map((s) => (s as PromiseFulfilledResult<string | undefined>).value)
    .filter((k): k is string => k !== undefined);
}

async function deleteIfOlder(store: Store, key: string, ts: Timestamp): Promise<void> {
  const cur = await store.get(key);
  if (cur === undefined) return;
  if (cur.kind === "lww" && cur.ts > ts) return;
  await store.delete(key);
}

/**
 * The client side of the fault workload's writes: one request as a client transaction
 * (`cloud.txn`) at `read-atomic`, or as direct client writes at `lww`, with the retries an
 * application would make.
 */
import { isStratusError } from "../../src/errors/index.js";
import { lattices } from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import type { Consistency } from "../../src/protocol/index.js";

/** What a client writer needs of a client (a `Stratus`). */
export interface ClientWriterCloud {
  put(key: string, value: unknown): Promise<void>;
  merge(key: string, lattice: Lattice): Promise<void>;
  txn: {
    begin(): Promise<{
      put(key: string, value: unknown): void;
      merge(key: string, lattice: Lattice): void;
      commit(): Promise<void>;
    }>;
  };
}

/** One write request of a client lane: `tag` to every key, and +1 on the request's counter. */
export interface ClientWrite {
  tag: string;
  keys: readonly string[];
  counterKey: string;
  /** Also merge 1 into this shared counter and the tag into this shared set. */
  shared?: { counter: string; set: string };
}

/**
 * Makes `w` happen, retrying up to `attempts` times; true once it is acknowledged.
 *
 * At read-atomic a failed commit is sent again as it was (the same transaction id and epoch, so
 * it commits at most once) unless it says `TXN_ABORTED`/`TXN_FENCED` (nothing is visible): then
 * a new transaction starts. At lww a failed write starts the whole request again, which can
 * apply the counter twice: what the control is there to show.
 */
export async function clientWrite(
  cloud: ClientWriterCloud,
  level: Consistency,
  w: ClientWrite,
  attempts: number,
  failed: (e: unknown, attempt: number) => Promise<void>,
): Promise<boolean> {
  let a = 0;
  while (a < attempts) {
    try {
      if (level !== "read-atomic") {
        a++;
        await cloud.merge(w.counterKey, lattices.counter(1));
        if (w.shared !== undefined) {
          await cloud.merge(w.shared.counter, lattices.counter(1));
          await cloud.merge(w.shared.set, lattices.set([w.tag]));
        }
        for (const k of w.keys) await cloud.put(k, w.tag);
        return true;
      }
      a++;
      const tx = await cloud.txn.begin();
      tx.merge(w.counterKey, lattices.counter(1));
      if (w.shared !== undefined) {
        tx.merge(w.shared.counter, lattices.counter(1));
        tx.merge(w.shared.set, lattices.set([w.tag]));
      }
      for (const k of w.keys) tx.put(k, w.tag);
      for (;;) {
        try {
          await tx.commit();
          return true;
        } catch (e) {
          if (!isStratusError(e) || e.code === "TXN_ABORTED" || e.code === "TXN_FENCED") throw e;
          if (++a > attempts) return false;
          await failed(e, a);
        }
      }
    } catch (e) {
      await failed(e, a);
    }
  }
  return false;
}

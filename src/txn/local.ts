import { decodeLattice, encodeLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { TxnManager } from "./manager.js";
import type { TxnBackend, WireCommit, WireRead } from "./transaction.js";

/**
 * The transaction backend of a manager in this process (the gateway, a node's sessions, tests).
 * Also what the gateway methods `txn.begin`, `txn.read` and `txn.commit` call.
 *
 * @example
 * ```ts
 * const tx = await Transaction.begin(localBackend(manager, clock));
 * ```
 */
export function localBackend(m: TxnManager, clock: HybridClock): TxnBackend {
  return {
    begin: () => Promise.resolve(clock.now()),
    async read(key, reads, start): Promise<WireRead> {
      const r = await m.read(key, new Map(reads), start);
      return { rid: r.rid, value: r.value === undefined ? null : encodeLattice(r.value) };
    },
    async commit(c: WireCommit) {
      const out = await m.commit({
        tid: c.tid,
        epoch: c.epoch,
        start: c.start,
        reads: new Map(c.reads),
        writes: c.writes.map(([k, v]) => [k, v === null ? null : decodeLattice(v)] as const),
      });
      return { ts: out.ts ?? null };
    },
  };
}

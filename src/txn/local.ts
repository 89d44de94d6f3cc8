import { decodeLattice, encodeLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { TxnManager } from "./manager.js";
import type {
  LatticeCommit,
  TxnBackend,
  WireCommit,
  WireCommitted,
  WireRead,
} from "./transaction.js";

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
  const inProcess: Required<TxnBackend>["inProcess"] = {
    read: (key, reads, start) => m.read(key, new Map(reads), start),
    async commit(c: LatticeCommit): Promise<WireCommitted> {
      const out = await m.commit({ ...c, reads: new Map(c.reads) });
      const r: WireCommitted = { ts: out.ts ?? null, duplicate: out.duplicate };
      if (out.result !== undefined) r.result = out.result;
      return r;
    },
  };
  return {
    begin: () => Promise.resolve(clock.now()),
    async read(key, reads, start): Promise<WireRead> {
      const r = await inProcess.read(key, reads, start);
      return { rid: r.rid, value: r.value === undefined ? null : encodeLattice(r.value) };
    },
    async readAt(key, rid) {
      const l = await m.readVersion(key, rid);
      return l === undefined ? null : encodeLattice(l);
    },
    commit: (c: WireCommit) =>
      inProcess.commit({
        ...c,
        writes: c.writes.map(([k, v]) => [k, v === null ? null : decodeLattice(v)]),
      }),
    inProcess,
  };
}

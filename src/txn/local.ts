import { decodeLattice, encodeLattice, parseTimestamp } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { TxnManager } from "./manager.js";
import type {
  LatticeCommit,
  TxnBackend,
  WireCommit,
  WireCommitted,
  WireReadRequest,
} from "./transaction.js";

/** The id of a transaction attempt's snapshot at its home. */
export function snapshotId(tid: string, epoch: number): string {
  return `${tid}.${epoch}`;
}

/**
 * The transaction backend of a manager in this process, which is then the transaction's home
 * (the gateway for clients, a node for `ctx.txn`, tests). Also what the gateway's `txn.*`
 * methods call.
 *
 * @example
 * ```ts
 * const tx = await Transaction.begin(localBackend(manager, clock));
 * ```
 */
export function localBackend(m: TxnManager, clock: HybridClock): TxnBackend {
  const inProcess: Required<TxnBackend>["inProcess"] = {
    read: (r: WireReadRequest) =>
      m.read(
        {
          id: snapshotId(r.tid, r.epoch),
          start: r.start,
          deadline: r.deadline ?? parseTimestamp(r.start).wallMs + m.maxTxnMs,
          readsBefore: r.n,
        },
        r.key,
      ),
    async commit(c: LatticeCommit): Promise<WireCommitted> {
      const out = await m.commit({ ...c, snapshot: snapshotId(c.tid, c.epoch) });
      const r: WireCommitted = { ts: out.ts ?? null, duplicate: out.duplicate };
      if (out.result !== undefined) r.result = out.result;
      return r;
    },
  };
  return {
    begin: () => Promise.resolve(clock.now()),
    async read(r) {
      const l = await inProcess.read(r);
      return l === undefined ? null : encodeLattice(l);
    },
    commit: (c: WireCommit) =>
      inProcess.commit({
        ...c,
        writes: c.writes.map(([k, mode, v]) => [k, mode, v === null ? null : decodeLattice(v)]),
      }),
    release: (tid, epoch) => {
      m.release(snapshotId(tid, epoch));
      return Promise.resolve();
    },
    inProcess,
  };
}

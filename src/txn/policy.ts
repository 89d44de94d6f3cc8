import type { RunSession, SessionPolicy, SessionPolicyFactory } from "../consistency/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { RunMeta } from "../scheduler/index.js";
import { TXN_SESSION_KEY, carried } from "./carried.js";
import type { CarriedTxn } from "./carried.js";
import { localBackend } from "./local.js";
import type { TxnManager } from "./manager.js";
import { tidForRequest } from "./record.js";
import { ReadAtomicSession } from "./session.js";
import { Transaction } from "./transaction.js";
import type { TxnBackend } from "./transaction.js";

/**
 * The `read-atomic` consistency level: a whole run (a DAG run, a call) is one read-atomic
 * transaction. Reads follow the read-atomic rule across every node of the run, writes are
 * buffered and carried with the run, and the sink commits them (with the run's result) in one
 * record; a retry of the same request finds that record and returns its result.
 *
 * @example
 * ```ts
 * const mgr = await TxnManager.start({ store, clock });
 * await Node.start({ ..., sessionPolicies: [readAtomicPolicy(mgr)] });
 * ```
 */
export function readAtomicPolicy(mgr: TxnManager): SessionPolicyFactory {
  return (env) => new ReadAtomicPolicy(mgr, env.clock);
}

class ReadAtomicPolicy implements SessionPolicy {
  readonly level = "read-atomic" as const;
  private readonly backend: TxnBackend;

  constructor(
    mgr: TxnManager,
    private readonly clock: HybridClock,
  ) {
    this.backend = localBackend(mgr, clock);
  }

  open(meta: RunMeta): RunSession {
    const c = carried(meta);
    if (c === undefined) {
      // A run no gateway started (a schedule tick): its own transaction, keyed by the run so
      // that every node of it agrees.
      const tid = tidForRequest(meta.run);
      const tx = new Transaction(this.backend, tid, this.clock.now(), meta.attempt + 1);
      const fresh: CarriedTxn = { id: tid, e: tx.epoch, s: tx.startedAt, r: [], w: [] };
      if (meta.dag !== undefined) fresh.d = meta.dag;
      return new ReadAtomicSession(tx, meta, fresh);
    }
    // The run's own transaction, or (c.j set) a nested call inside its caller's.
    return new ReadAtomicSession(
      new Transaction(this.backend, c.id, c.s, c.e, { reads: c.r, writes: c.w }),
      meta,
      c,
    );
  }

  join(metas: RunMeta[]): RunMeta {
    const first = metas[0] as RunMeta;
    const base = carried(first);
    if (base === undefined) return first;
    const tx = new Transaction(this.backend, base.id, base.s, base.e, {
      reads: base.r,
      writes: [],
    });
    for (const m of metas) {
      const c = carried(m);
      if (c === undefined || c.id !== base.id) continue;
      tx.absorb(c.r, c.w);
    }
    const txn: CarriedTxn = { ...base, r: tx.readSet(), w: tx.carriedWrites() };
    return { ...first, session: { ...first.session, [TXN_SESSION_KEY]: txn } };
  }
}

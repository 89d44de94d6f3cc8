import type { RunSession, SessionPolicy, SessionPolicyFactory } from "../consistency/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { RunMeta } from "../protocol/index.js";
import { TXN_SESSION_KEY, carried } from "./carried.js";
import type { CarriedTxn } from "./carried.js";
import { runBackend, serveHome } from "./home.js";
import type { HomeEnv } from "./home.js";
import { localBackend } from "./local.js";
import type { TxnManager } from "./manager.js";
import { tidForRequest } from "./record.js";
import { ReadAtomicSession } from "./session.js";
import { Transaction } from "./transaction.js";
import type { TxnBackend } from "./transaction.js";

/**
 * The `read-atomic` consistency level: a whole run (a DAG run, a call) is one read-atomic
 * transaction. Every read of the run, on whichever node, goes to the run's home node (the node
 * of its first source), which keeps one snapshot for it; writes are buffered and carried with
 * the run, and the sink commits them (with the run's result) in one record; a retry of the same
 * request finds that record and returns its result.
 *
 * @example
 * ```ts
 * const mgr = await TxnManager.start({ store, clock });
 * await Node.start({ ..., sessionPolicies: [readAtomicPolicy(mgr)] });
 * ```
 */
export function readAtomicPolicy(mgr: TxnManager): SessionPolicyFactory {
  return (env) => new ReadAtomicPolicy(mgr, env);
}

class ReadAtomicPolicy implements SessionPolicy {
  readonly level = "read-atomic" as const;
  /**
   * This node's backend over its manager, made once: it holds nothing of a run, and building it
   * (a dozen closures) for every read-atomic run was a cost of every run.
   */
  private readonly local: TxnBackend;

  constructor(
    private readonly mgr: TxnManager,
    private readonly env: HomeEnv & { clock: HybridClock },
  ) {
    this.local = localBackend(mgr, env.clock);
  }

  open(meta: RunMeta): RunSession {
    let c = carried(meta);
    if (c === undefined) {
      // A run no gateway started: its own transaction, keyed by the run so every node agrees.
      const tid = tidForRequest(meta.run);
      c = { id: tid, e: meta.attempt + 1, s: this.env.clock.now(), n: 0, w: [] };
      if (meta.dag !== undefined) c.d = meta.dag;
    }
    if (c.h === undefined) {
      // The first node of the run: the home the dispatcher chose, or this node.
      const h = meta.home;
      c = { ...c, h: h !== undefined ? [h.node, h.addr] : [this.env.nodeId, ""] };
    }
    const backend = runBackend(this.local, this.env, c.h!, meta.deadline);
    const tx = new Transaction(backend, c.id, c.s, c.e, { writes: c.w, reads: c.n });
    return new ReadAtomicSession(tx, meta, c);
  }

  join(metas: RunMeta[]): RunMeta {
    const first = metas[0] as RunMeta;
    const base = carried(first);
    if (base === undefined) return first;
    const tx = new Transaction(
      runBackend(this.local, this.env, base.h ?? [this.env.nodeId, ""], first.deadline),
      base.id,
      base.s,
      base.e,
      { writes: [] },
    );
    let n = 0;
    for (const m of metas) {
      const c = carried(m);
      if (c === undefined || c.id !== base.id) continue;
      tx.absorb(c.w);
      n = Math.max(n, c.n);
    }
    const txn: CarriedTxn = { ...base, n, w: tx.carriedWrites() };
    return { ...first, session: { ...first.session, [TXN_SESSION_KEY]: txn } };
  }

  handle(method: string, payload: unknown): unknown {
    return serveHome(this.mgr, method, payload);
  }
}

import type { RunSession } from "../consistency/index.js";
import { checkPayload } from "../protocol/index.js";
import type { GatewayResponse, TxnMethod } from "../protocol/index.js";
import type { RunTransactionService } from "./service.js";
import { ReadAtomicSession } from "./session.js";

/**
 * `ctx.txn` on a node: the same `txn.*` methods (and payload checks) as the gateway's, served by
 * the node's own manager, so a function's transaction takes no hop to a scheduler. Inside a
 * `read-atomic` run the run already is a transaction, and a `ctx.txn` transaction joins it: it
 * reads what the run sees and its `commit()` adds its writes to the run's, committed (or
 * dropped) with the run. That is what nesting means for calls too, and it keeps one commit
 * point per run, so exactly-once runs stay exactly-once.
 *
 * @example
 * ```ts
 * const fnTxns = new FunctionTransactions(new RunTransactionService(mgr, clock));
 * await Node.start({ ..., txn: fnTxns });
 * ```
 */
export class FunctionTransactions {
  constructor(private readonly service: RunTransactionService) {}

  /** One `txn.*` request of a function running in session `run`. */
  handle<M extends TxnMethod>(
    method: M,
    payload: unknown,
    run: RunSession,
  ): Promise<GatewayResponse<M>> {
    const p = checkPayload(method, payload);
    if (run instanceof ReadAtomicSession) return run.joined(method, p);
    return this.service.handle(method, p);
  }
}

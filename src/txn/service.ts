import { InvalidArgumentError } from "../errors/index.js";
import { encodeValue, isTimestamp } from "../lattice/index.js";
import type { HybridClock, Timestamp } from "../lattice/index.js";
import type { RunMeta } from "../scheduler/index.js";
import { localBackend } from "./local.js";
import type { TxnManager } from "./manager.js";
import { TXN_SESSION_KEY, startedTxn } from "./policy.js";
import type { CarriedTxn } from "./policy.js";
import { tidForRequest } from "./record.js";
import type { TxnRecord } from "./record.js";
import type { WireCommit } from "./transaction.js";

type Started = { session: Record<string, unknown> } | { result: Uint8Array };

/**
 * The scheduler's side of transactions: starting read-atomic runs (a fence of every earlier
 * attempt of the same request, so that none of them can commit any more), relaunching them
 * after a node loss, and the gateway's `txn.*` methods for client transactions.
 *
 * @example
 * ```ts
 * const txns = new RunTransactionService(manager, clock);
 * new Gateway({ ..., txn: txns });
 * new Dispatcher({ ..., relaunch: (meta) => txns.relaunch(meta) });
 * ```
 */
export class RunTransactionService {
  private readonly backend;

  constructor(
    private readonly mgr: TxnManager,
    private readonly clock: HybridClock,
  ) {
    this.backend = localBackend(mgr, clock);
  }

  /** A new attempt of request `requestId`'s run, or the result one of its attempts committed. */
  async begin(requestId: string, dag: string): Promise<Started> {
    const tid = tidForRequest(requestId);
    const r = await this.mgr.supersede(tid);
    if ("record" in r) return { result: resultOf(r.record) };
    return { session: { [TXN_SESSION_KEY]: startedTxn(tid, r.epoch, this.clock.now(), dag) } };
  }

  /** Before a read-atomic run is launched again: fence the attempt it replaces. */
  relaunch(meta: RunMeta): Promise<{ meta: RunMeta } | { result: Uint8Array }> | undefined {
    if (meta.consistency !== "read-atomic") return undefined;
    const c = meta.session[TXN_SESSION_KEY] as CarriedTxn | undefined;
    if (c === undefined || typeof c.id !== "string") return undefined;
    return this.mgr.supersede(c.id).then((r) => {
      if ("record" in r) return { result: resultOf(r.record) };
      const txn: CarriedTxn = { ...c, e: r.epoch, s: this.clock.now(), r: [], w: [] };
      return { meta: { ...meta, session: { ...meta.session, [TXN_SESSION_KEY]: txn } } };
    });
  }

  /** The gateway's `txn.*` methods (payload shapes checked by the gateway). */
  async handle(method: string, p: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case "txn.begin":
        return { start: await this.backend.begin() };
      case "txn.read":
        return this.backend.read(
          p.key as string,
          p.reads as [string, string | null][],
          ts(p.start),
        );
      case "txn.readAt":
        return (await this.backend.readAt?.(p.key as string, p.rid as string | null)) ?? null;
      case "txn.commit": {
        const epoch = p.epoch;
        if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) {
          throw InvalidArgumentError.field("epoch", "must be a positive integer");
        }
        const c: WireCommit = {
          tid: p.tid as string,
          epoch: epoch as number,
          start: ts(p.start),
          reads: p.reads as [string, string | null][],
          writes: p.writes as [string, Uint8Array | null][],
        };
        const out = await this.backend.commit(c);
        return { ts: out.ts };
      }
      default:
        throw new InvalidArgumentError(`unknown method ${method.slice(0, 64)}`);
    }
  }
}

function ts(v: unknown): Timestamp {
  if (!isTimestamp(v)) throw InvalidArgumentError.field("start", "must be a timestamp");
  return v;
}

function resultOf(r: TxnRecord): Uint8Array {
  return r.result ?? encodeValue(undefined);
}

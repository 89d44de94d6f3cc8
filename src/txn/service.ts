import { InvalidArgumentError } from "../errors/index.js";
import { encodeValue, isTimestamp } from "../lattice/index.js";
import type { HybridClock, Timestamp } from "../lattice/index.js";
import type {
  GatewayRequest,
  GatewayResponse,
  RunMeta,
  SessionSlots,
  TxnHandlers,
  TxnMethod,
} from "../protocol/index.js";
import { localBackend } from "./local.js";
import type { TxnManager } from "./manager.js";
import { TXN_SESSION_KEY, startedTxn } from "./carried.js";
import type { CarriedTxn } from "./carried.js";
import { checkTid, tidForRequest } from "./record.js";
import type { TxnRecord } from "./record.js";
import type { WireCommit } from "./transaction.js";

type Started = { session: SessionSlots } | { result: Uint8Array };

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

  /** Longest a transaction or read-atomic run may take (the manager's `maxTxnMs`). */
  get maxTxnMs(): number {
    return this.mgr.maxTxnMs;
  }

  /**
   * A new attempt of request `requestId`'s run, or the result one of its attempts committed.
   *
   * Why a first attempt (`retry` false) starts at epoch 1 without touching storage, while a
   * retry fences every earlier attempt first (`supersede`, one putIfAbsent per earlier epoch):
   * - Nothing precedes a first attempt, so there is nothing to fence. Its commit is a
   *   putIfAbsent of record key `tid.1`, which is also where every later fence starts.
   * - Two "first" attempts of one request id (a caller reusing its own id without marking a
   *   retry) share `tid.1`: one putIfAbsent wins, the other finds the record and returns the
   *   recorded result (`TxnManager.commit` → duplicate). Effects still happen once.
   * - A client retry (marked), also one sent to another scheduler after this one crashed: it
   *   supersedes, i.e. putIfAbsent(fence) on `tid.1`, `tid.2`, … until a free key. Either the
   *   first attempt committed before (the retry finds its record and returns its result), or the
   *   fence lands first and the first attempt can never commit (its putIfAbsent fails).
   * - A relaunch after a node loss (`relaunch`) supersedes the same way, fencing `tid.1` too.
   * - A late first attempt (started after a retry fenced `tid.1`) fails its commit on the fence;
   *   the manager then returns the result a later epoch committed, else `TXN_FENCED`.
   * - Fences expire after `retentionMs` (default 1 h) but an attempt lives at most `maxTxnMs`
   *   (default 30 s, checked at commit), so no attempt a fence stopped outlives its fence. Past
   *   `retentionMs` a request id is forgotten, for first attempts and retries alike.
   * The dispatcher's own retries of a run (SNAPSHOT_CONFLICT, NODE_LOST results) reuse the
   * session and so the epoch of the attempt that failed, which can no longer commit.
   */
  async begin(requestId: string, dag: string, retry = true): Promise<Started> {
    const tid = tidForRequest(requestId);
    if (!retry) {
      return { session: { [TXN_SESSION_KEY]: startedTxn(tid, 1, this.clock.now(), dag) } };
    }
    const r = await this.mgr.supersede(tid);
    if ("record" in r) return { result: resultOf(r.record) };
    return { session: { [TXN_SESSION_KEY]: startedTxn(tid, r.epoch, this.clock.now(), dag) } };
  }

  /** Before a read-atomic run is launched again: fence the attempt it replaces. */
  relaunch(meta: RunMeta): Promise<{ meta: RunMeta } | { result: Uint8Array }> | undefined {
    if (meta.consistency !== "read-atomic") return undefined;
    const c = meta.session.txn;
    // A nested call inside its caller's transaction commits nothing, so it has nothing to
    // fence: it runs again, and whichever attempt answers first is the one its caller takes in.
    if (c === undefined || typeof c.id !== "string" || c.j !== undefined) return undefined;
    return this.mgr.supersede(c.id).then((r) => {
      if ("record" in r) return { result: resultOf(r.record) };
      // A new attempt: a new snapshot, at the home of the new placement.
      const { h: _home, ...rest } = c;
      const txn: CarriedTxn = { ...rest, e: r.epoch, s: this.clock.now(), n: 0, w: [] };
      return { meta: { ...meta, session: { ...meta.session, [TXN_SESSION_KEY]: txn } } };
    });
  }

  /**
   * The gateway's `txn.*` methods (payload shapes checked by the gateway): the gateway is the
   * home of a client's transaction, keeping its snapshot from its first read to its commit or
   * abort (or `maxTxnMs`).
   */
  handle<M extends TxnMethod>(method: M, p: GatewayRequest<M>): Promise<GatewayResponse<M>> {
    const h: TxnHandlers[M] = this.methods[method];
    return h(p);
  }

  private readonly methods: TxnHandlers = {
    "txn.begin": async (p) => ({ start: await this.backend.begin(p.tid ?? "") }),
    "txn.read": (p) =>
      this.backend.read({
        tid: tidOf(p.tid),
        epoch: epochOf(p.epoch),
        start: ts(p.start),
        key: p.key,
        n: p.n ?? 0,
      }),
    "txn.abort": async (p) => {
      await this.backend.release?.(tidOf(p.tid), epochOf(p.epoch));
      return null;
    },
    "txn.commit": async (p) => {
      const c: WireCommit = {
        tid: tidOf(p.tid),
        epoch: epochOf(p.epoch),
        start: ts(p.start),
        writes: p.writes,
      };
      const out = await this.backend.commit(c);
      return { ts: out.ts };
    },
  };
}

function tidOf(v: unknown): string {
  checkTid(v);
  return v;
}

function epochOf(v: unknown): number {
  if (v === undefined) return 1;
  if (!Number.isSafeInteger(v) || (v as number) < 1) {
    throw InvalidArgumentError.field("epoch", "must be a positive integer");
  }
  return v as number;
}

function ts(v: unknown): Timestamp {
  if (!isTimestamp(v)) throw InvalidArgumentError.field("start", "must be a timestamp");
  return v;
}

function resultOf(r: TxnRecord): Uint8Array {
  return r.result ?? encodeValue(undefined);
}

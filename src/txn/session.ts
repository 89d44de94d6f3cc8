import type { RunSession } from "../consistency/index.js";
import { BadEncodingError, InvalidArgumentError } from "../errors/index.js";
import {
  LwwLattice,
  ZERO_TIMESTAMP,
  decodeLattice,
  decodeValue,
  encodeLattice,
  encodeValue,
} from "../lattice/index.js";
import type {
  GatewayRequest,
  GatewayResponse,
  RunMeta,
  SessionSlots,
  TxnHandlers,
  TxnMethod,
} from "../protocol/index.js";
import type { ReadValue } from "../state/index.js";
import { userKey } from "../state/index.js";
import type { CarriedTxn } from "./carried.js";
import { TXN_SESSION_KEY, isWireWrites } from "./carried.js";
import type { Transaction, WireWrite } from "./transaction.js";

/** What a nested call in a caller's transaction returns: its result and its writes. */
interface Returned {
  v: Uint8Array;
  /** Reads the home answered (the caller carries the larger count on). */
  n: number;
  j: WireWrite[];
}

/**
 * One node's part of a read-atomic run. Reads go to the run's home (one snapshot for the whole
 * run); writes are buffered and carried on; the sink commits them with the result. In a nested
 * call (`ctx.call` from a read-atomic run) it is joined to the caller's transaction: it starts
 * from the caller's buffered writes, keeps a list of its own writes (`own`, carried as `j`), and
 * instead of committing, hands its result back together with those writes, which the caller's
 * session takes in (`returned`). Only its own writes go back: the caller's merges would
 * otherwise be counted twice (two counter deltas add up).
 */
export class ReadAtomicSession implements RunSession {
  private readonly own: WireWrite[] | undefined;
  /** Writes are buffered in the transaction, synchronously: nothing to wait for. */
  readonly buffersWrites = true;

  constructor(
    private readonly tx: Transaction,
    private readonly meta: RunMeta,
    private readonly c: CarriedTxn,
  ) {
    this.own = c.j === undefined ? undefined : [...c.j];
  }

  get(key: unknown): Promise<ReadValue | undefined> {
    return this.tx.read(checked(key));
  }

  async getLattice(key: unknown): Promise<Uint8Array | undefined> {
    const l = await this.tx.view(checked(key));
    return l === undefined ? undefined : encodeLattice(l);
  }

  put(key: unknown, value: Uint8Array): Promise<void> {
    this.tx.putBytes(checked(key), value);
    this.own?.push([key as string, 0, encodeLattice(new LwwLattice(ZERO_TIMESTAMP, value))]);
    return Promise.resolve();
  }

  merge(key: unknown, lattice: Uint8Array): Promise<void> {
    if (!(lattice instanceof Uint8Array)) throw new InvalidArgumentError("merge takes a lattice");
    this.tx.mergeLattice(checked(key), decodeLattice(lattice));
    this.own?.push([key as string, 1, lattice]);
    return Promise.resolve();
  }

  delete(key: unknown): Promise<void> {
    this.tx.delete(checked(key));
    this.own?.push([key as string, 0, null]);
    return Promise.resolve();
  }

  forward(): RunMeta {
    return { ...this.meta, session: { ...this.meta.session, [TXN_SESSION_KEY]: this.carry() } };
  }

  /** A nested call joins this transaction, with a list of its own writes of its own. */
  nested(): SessionSlots {
    return { ...this.meta.session, [TXN_SESSION_KEY]: { ...this.carry(), j: [] } };
  }

  /** Takes in what a nested call wrote; returns the call's own result. */
  returned(v: Uint8Array): Uint8Array {
    const back = decodeValue<Returned>(v);
    if (
      typeof back !== "object" ||
      back === null ||
      !(back.v instanceof Uint8Array) ||
      !Number.isSafeInteger(back.n) ||
      !isWireWrites(back.j)
    ) {
      throw new BadEncodingError("a nested read-atomic call returned no transaction");
    }
    this.tx.absorb(back.j);
    this.tx.noteReads(back.n);
    this.own?.push(...back.j);
    return back.v;
  }

  /** The transaction's id: what `ctx.runId()` returns in a read-atomic run. */
  runId(): string {
    return this.c.id;
  }

  /**
   * A `ctx.txn` transaction inside this run joins it: it reads what the run sees, and its
   * `commit()` adds its writes (with their modes: a merge stays a merge) to the run's, to be
   * committed with the run.
   */
  joined<M extends TxnMethod>(method: M, p: GatewayRequest<M>): Promise<GatewayResponse<M>> {
    const h: TxnHandlers[M] = (this.joinedMethods ??= this.joinedTable())[method];
    return h(p);
  }

  private joinedMethods: TxnHandlers | undefined;

  private joinedTable(): TxnHandlers {
    return {
      "txn.begin": async () => ({ start: this.c.s }),
      "txn.read": async (p) => (await this.getLattice(p.key)) ?? null,
      "txn.abort": async () => null,
      "txn.commit": async (p) => {
        for (const [k, mode, v] of p.writes) {
          const key = checked(k);
          if (v === null) this.tx.delete(key);
          else if (mode === 1) this.tx.mergeLattice(key, decodeLattice(v));
          else {
            const l = decodeLattice(v);
            if (l.kind !== "lww") throw new InvalidArgumentError("a put writes a plain value");
            this.tx.putBytes(key, l.bytes);
          }
          this.own?.push([key, mode, v]);
        }
        return { ts: null };
      },
    };
  }

  /**
   * Commits the run's writes with its result. When an earlier attempt of the same request
   * committed, returns that attempt's result, which the caller gets instead. A nested call
   * commits nothing: it returns its result with its writes to its caller.
   */
  async finish(ok: boolean, result?: Uint8Array): Promise<Uint8Array | void> {
    // A nested call's snapshot is its caller's: only the caller's run lets it go.
    if (!ok) return this.own === undefined ? this.tx.abort() : undefined;
    if (this.own !== undefined) {
      const back: Returned = {
        v: result ?? encodeValue(undefined),
        n: this.tx.readCount,
        j: this.own,
      };
      return encodeValue(back);
    }
    try {
      const out = await this.tx.commit({ ...(result && { result }), always: true });
      return out.duplicate === true ? out.result : undefined;
    } finally {
      this.tx.releaseHome();
    }
  }

  private carry(): CarriedTxn {
    const txn: CarriedTxn = {
      ...this.c,
      n: this.tx.readCount,
      w: this.tx.carriedWrites(),
    };
    if (this.own !== undefined) txn.j = this.own;
    return txn;
  }
}

/** A user key, checked as every level checks it. */
function checked(key: unknown): string {
  userKey(key);
  return key as string;
}

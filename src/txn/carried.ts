import { InvalidArgumentError } from "../errors/index.js";
import { isTimestamp } from "../lattice/index.js";
import type { Timestamp } from "../lattice/index.js";
import type { RunMeta } from "../scheduler/index.js";
import type { WireWrite } from "./transaction.js";

/**
 * What a read-atomic run carries in `RunMeta.session.txn` from node to node: the transaction id
 * and attempt (epoch), its start, its read set and its buffered writes. The writes travel with
 * the run, so nothing reaches storage before the sink commits.
 */
export interface CarriedTxn {
  id: string;
  e: number;
  s: Timestamp;
  /** The DAG the run started with (for status and debugging). */
  d?: string;
  r: [string, string | null][];
  w: WireWrite[];
  /**
   * Present in a nested call that joined its caller's transaction: the writes the call made
   * itself, which go back to the caller with its result instead of being committed.
   */
  j?: WireWrite[];
}

/** The session key of a read-atomic run's transaction. */
export const TXN_SESSION_KEY = "txn";

/** Builds what the gateway puts in a read-atomic run's session when it starts it. */
export function startedTxn(tid: string, epoch: number, start: Timestamp, dag: string): CarriedTxn {
  return { id: tid, e: epoch, s: start, d: dag, r: [], w: [] };
}

/** The transaction a run carries; INVALID_ARGUMENT when it is malformed. */
export function carried(meta: RunMeta): CarriedTxn | undefined {
  const raw: unknown = Object.hasOwn(meta.session, TXN_SESSION_KEY)
    ? meta.session[TXN_SESSION_KEY]
    : undefined;
  if (raw === undefined) return undefined;
  if (!isCarried(raw)) throw new InvalidArgumentError("malformed read-atomic session");
  return raw;
}

/** A list of buffered writes as runs carry them (untrusted: it came over the network). */
export function isWireWrites(w: unknown): w is WireWrite[] {
  return (
    Array.isArray(w) &&
    w.length <= 100_000 &&
    w.every(
      (x) =>
        Array.isArray(x) &&
        (x.length === 3 || (x.length === 4 && typeof x[3] === "string" && x[3].length <= 64)) &&
        typeof x[0] === "string" &&
        (x[1] === 0 || x[1] === 1) &&
        (x[2] === null || x[2] instanceof Uint8Array),
    )
  );
}

function isCarried(x: unknown): x is CarriedTxn {
  if (typeof x !== "object" || x === null) return false;
  const c = x as Record<string, unknown>;
  return (
    typeof c.id === "string" &&
    /^[0-9a-zA-Z_-]{1,128}$/.test(c.id) &&
    Number.isSafeInteger(c.e) &&
    (c.e as number) > 0 &&
    isTimestamp(c.s) &&
    (c.d === undefined || typeof c.d === "string") &&
    Array.isArray(c.r) &&
    c.r.length <= 100_000 &&
    c.r.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 2 &&
        typeof p[0] === "string" &&
        (p[1] === null || typeof p[1] === "string"),
    ) &&
    isWireWrites(c.w) &&
    (c.j === undefined || isWireWrites(c.j))
  );
}

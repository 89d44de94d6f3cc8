import { InvalidArgumentError } from "../errors/index.js";
import { isTimestamp } from "../lattice/index.js";
import type { Timestamp } from "../lattice/index.js";
import { MAX_SESSION_KEYS, SESSION_SLOTS } from "../protocol/index.js";
import type { CarriedTxn, RunMeta } from "../protocol/index.js";
import type { WireWrite } from "./transaction.js";

/** What a read-atomic run carries in `RunMeta.session.txn` (see src/protocol). */
export type { CarriedTxn };

/** The session slot of a read-atomic run's transaction. */
export const TXN_SESSION_KEY = SESSION_SLOTS.txn;

/** Builds what the gateway puts in a read-atomic run's session when it starts it. */
export function startedTxn(tid: string, epoch: number, start: Timestamp, dag: string): CarriedTxn {
  return { id: tid, e: epoch, s: start, d: dag, n: 0, w: [] };
}

/** The transaction a run carries; INVALID_ARGUMENT when it is malformed. */
export function carried(meta: RunMeta): CarriedTxn | undefined {
  // Untrusted until checked here: it came from a peer.
  const raw: unknown = Object.hasOwn(meta.session, TXN_SESSION_KEY) ? meta.session.txn : undefined;
  if (raw === undefined) return undefined;
  if (!isCarried(raw)) throw new InvalidArgumentError("malformed read-atomic session");
  return raw;
}

/** A list of buffered writes as runs carry them (untrusted: it came over the network). */
export function isWireWrites(w: unknown): w is WireWrite[] {
  return (
    Array.isArray(w) &&
    w.length <= MAX_SESSION_KEYS &&
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

function isHome(h: unknown): h is [string, string] {
  return (
    Array.isArray(h) &&
    h.length === 2 &&
    typeof h[0] === "string" &&
    h[0].length > 0 &&
    h[0].length <= 64 &&
    typeof h[1] === "string" &&
    h[1].length > 0 &&
    h[1].length <= 512
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
    (c.h === undefined || isHome(c.h)) &&
    Number.isSafeInteger(c.n) &&
    (c.n as number) >= 0 &&
    (c.n as number) <= 1_000_000 &&
    isWireWrites(c.w) &&
    (c.j === undefined || isWireWrites(c.j))
  );
}

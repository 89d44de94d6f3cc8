import { createHash } from "node:crypto";
import { BadEncodingError, InvalidArgumentError } from "../errors/index.js";
import {
  LwwLattice,
  ZERO_TIMESTAMP,
  decodeValue,
  encodeValue,
  isTimestamp,
} from "../lattice/index.js";
import type { Lattice, Timestamp } from "../lattice/index.js";

/**
 * Storage layout of transactions. One key per commit attempt: `sys/txn/c/<tid>.<epoch>`. It holds
 * either the commit record (every version the transaction wrote, inline, and the run's result)
 * or a fence (a newer attempt took over). It is written once with `putIfAbsent`, so it is the
 * commit point and the fencing point at once, and any backend (one key, one slot) can do it.
 */
export const TXN_PREFIX = "sys/txn/c/";

/** Where a commit attempt's record (or fence) lives. */
export function recordKey(tid: string, epoch: number): string {
  return `${TXN_PREFIX}${tid}.${epoch}`;
}

/** The record id (`<tid>.<epoch>`) of a record key, or undefined for another key. */
export function ridOf(storeKey: string): string | undefined {
  if (!storeKey.startsWith(TXN_PREFIX)) return undefined;
  const rid = storeKey.slice(TXN_PREFIX.length);
  return /^[0-9a-zA-Z_-]{1,128}\.[0-9]{1,9}$/.test(rid) ? rid : undefined;
}

/** The transaction id and epoch a record id (`<tid>.<epoch>`) names. */
export function splitRid(rid: string): [tid: string, epoch: number] {
  const dot = rid.lastIndexOf(".");
  return [rid.slice(0, dot), Number(rid.slice(dot + 1))];
}

/** A transaction id is a short token of safe characters (it names storage keys). */
export function checkTid(tid: unknown): asserts tid is string {
  if (typeof tid !== "string" || !/^[0-9a-zA-Z_-]{1,128}$/.test(tid)) {
    throw InvalidArgumentError.field("tid", "must be 1-128 characters of [0-9a-zA-Z_-]");
  }
}

/**
 * The transaction id of a logical request: the same request id always maps to the same id, so a
 * retry of the request finds the first attempt's commit record.
 */
export function tidForRequest(requestId: string): string {
  // A request id of safe characters (the client's UUIDs) is used as it is: hashing it cost
  // ~20 µs per run. The prefixes keep the two forms apart, so the mapping stays one-to-one.
  if (SAFE_ID.test(requestId)) return "q" + requestId;
  return "r" + createHash("sha256").update(requestId).digest("base64url").slice(0, 22);
}

const SAFE_ID = /^[0-9a-zA-Z_-]{1,100}$/;

/** One version a transaction wrote: an encoded lattice, or null for a delete. */
export type VersionValue = Uint8Array | null;

/** A commit record, as stored. */
export interface TxnRecord {
  tid: string;
  epoch: number;
  ts: Timestamp;
  /** Each written user key and its new version. */
  writes: [string, VersionValue][];
  /** The run's result (exactly-once runs), returned to retries of the same request. */
  result?: Uint8Array;
  /** A record whose versions were collected keeps only its result, for retries. */
  compacted?: boolean;
}

/** What a commit key holds. */
export type CommitSlot = { kind: "record"; record: TxnRecord } | { kind: "fence" };

interface Encoded {
  f?: 1;
  t?: string;
  e?: number;
  ts?: string;
  w?: [string, Uint8Array | null][];
  r?: Uint8Array;
  c?: 1;
}

/** The stored form of a record (an LWW register stamped with the commit time). */
export function encodeRecord(r: TxnRecord): Lattice {
  const e: Encoded = { t: r.tid, e: r.epoch, ts: r.ts, w: r.writes };
  if (r.result !== undefined) e.r = r.result;
  if (r.compacted === true) e.c = 1;
  // A compacted record replaces the full one: its register time must be later.
  const at = r.compacted === true ? bump(r.ts) : r.ts;
  return new LwwLattice(at, encodeValue(e));
}

/** The stored form of a fence. */
export function encodeFence(): Lattice {
  return new LwwLattice(ZERO_TIMESTAMP, encodeValue({ f: 1 }));
}

/** Reads what a commit key holds; BAD_ENCODING for anything else. */
export function decodeSlot(l: Lattice): CommitSlot {
  if (l.kind !== "lww") throw new BadEncodingError("a transaction record must be an LWW register");
  const e = decodeValue<Encoded>(l.bytes);
  if (typeof e !== "object" || e === null) throw new BadEncodingError("bad transaction record");
  if (e.f === 1) return { kind: "fence" };
  if (
    typeof e.t !== "string" ||
    typeof e.e !== "number" ||
    !isTimestamp(e.ts) ||
    !Array.isArray(e.w)
  ) {
    throw new BadEncodingError("bad transaction record");
  }
  const record: TxnRecord = { tid: e.t, epoch: e.e, ts: e.ts, writes: e.w.map(toWrite) };
  if (e.r instanceof Uint8Array) record.result = e.r;
  if (e.c === 1) record.compacted = true;
  return { kind: "record", record };
}

function toWrite(w: unknown): [string, VersionValue] {
  if (!Array.isArray(w) || typeof w[0] !== "string") throw new BadEncodingError("bad write");
  const v: unknown = w[1];
  if (v !== null && !(v instanceof Uint8Array)) throw new BadEncodingError("bad write value");
  return [w[0], v];
}

/** A timestamp just after `ts` (same wall time and node, next counter). */
function bump(ts: Timestamp): Timestamp {
  // The last 8 hex digits are the node; the 6 before them the counter. Adding one to the node
  // field keeps the order strictly after `ts` without touching the wall clock.
  const node = parseInt(ts.slice(18), 16);
  if (node < 0xffffffff)
    return (ts.slice(0, 18) + (node + 1).toString(16).padStart(8, "0")) as Timestamp;
  const counter = parseInt(ts.slice(12, 18), 16) + 1;
  return (ts.slice(0, 12) + counter.toString(16).padStart(6, "0") + "00000000") as Timestamp;
}

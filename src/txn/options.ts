import { InvalidArgumentError } from "../errors/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import type { SnapshotTableOptions } from "./snapshots.js";

/** Options of {@link TxnManager}. */
export interface TxnManagerOptions {
  store: Store;
  clock: HybridClock;
  /**
   * Longest a transaction (or one attempt of a read-atomic run) may live; reads and commits of
   * an older one fail with `TXN_ABORTED` (retryable), and a read-atomic run may not ask for a
   * longer deadline. It bounds how long a commit's versions must stay known.
   * @default 30000
   */
  maxTxnMs?: number;
  /**
   * How long a commit record stays in storage after its commit (its committer then collects it;
   * its writes are in the plain keys since the commit). Must exceed `maxTxnMs` plus how late
   * commits reach other nodes. @default maxTxnMs + 30000
   */
  gcGraceMs?: number;
  /**
   * A record still in storage this long after its commit lost its committer (a crash): any
   * manager then writes its versions into the plain keys again (idempotent) and collects it.
   * @default 2 × gcGraceMs
   */
  orphanMs?: number;
  /** How often own records are collected. 0 turns the timer off (call `gc()`). @default 1000 */
  gcIntervalMs?: number;
  /**
   * How often storage is scanned for commit records this node never heard of and for orphans.
   * A safety net only: the change stream's own reconnects already trigger a scan (a `reset`),
   * and a scan of a prefix reads the whole keyspace on Redis, on every process. 0 turns the
   * timer off. @default 60000
   */
  recoveryIntervalMs?: number;
  /** How long fences and the results of exactly-once runs stay. @default 3600000 (1 hour) */
  retentionMs?: number;
  /** Records whose values are cached here (they never change). @default 4096 */
  cacheRecords?: number;
  /** Whether this manager deletes collected records from storage. @default true */
  collectStorage?: boolean;
  /** Bounds of the snapshots this node serves as a transaction's home. */
  snapshots?: SnapshotTableOptions;
}

/** {@link TxnManagerOptions} checked, with every default filled in. */
export interface ResolvedTxnOptions {
  maxTxnMs: number;
  graceMs: number;
  orphanMs: number;
  gcIntervalMs: number;
  recoveryIntervalMs: number;
  retentionMs: number;
  cacheRecords: number;
  collectStorage: boolean;
  snapshots: SnapshotTableOptions;
}

/** The defaults, for the CLI's flag help and the gateway's deadline rule. */
export const TXN_DEFAULTS = Object.freeze({ maxTxnMs: 30_000, marginMs: 30_000 });

/** Checks the options and fills in defaults; `INVALID_ARGUMENT` names the bad field. */
export function resolveTxnOptions(
  o: Omit<TxnManagerOptions, "store" | "clock">,
): ResolvedTxnOptions {
  const maxTxnMs = positive("maxTxnMs", o.maxTxnMs, TXN_DEFAULTS.maxTxnMs);
  const graceMs = positive("gcGraceMs", o.gcGraceMs, maxTxnMs + TXN_DEFAULTS.marginMs);
  if (graceMs < maxTxnMs)
    throw InvalidArgumentError.field("gcGraceMs", "must be at least maxTxnMs");
  const orphanMs = positive("orphanMs", o.orphanMs, 2 * graceMs);
  if (orphanMs < graceMs)
    throw InvalidArgumentError.field("orphanMs", "must be at least gcGraceMs");
  return {
    maxTxnMs,
    graceMs,
    orphanMs,
    gcIntervalMs: nonNegative("gcIntervalMs", o.gcIntervalMs, 1000),
    recoveryIntervalMs: nonNegative("recoveryIntervalMs", o.recoveryIntervalMs, 60_000),
    retentionMs: positive("retentionMs", o.retentionMs, 3_600_000),
    cacheRecords: positive("cacheRecords", o.cacheRecords, 4096),
    collectStorage: o.collectStorage ?? true,
    snapshots: o.snapshots ?? {},
  };
}

function positive(field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw InvalidArgumentError.field(field, "must be positive");
  return v;
}

function nonNegative(field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw InvalidArgumentError.field(field, "must be 0 or more");
  return v;
}

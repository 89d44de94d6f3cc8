import { StorageUnavailableError, backoffMs, isStratusError } from "../errors/index.js";
import { encodeLattice, stampTime } from "../lattice/index.js";
import type { HybridClock, Lattice, LatticeKind, Timestamp } from "../lattice/index.js";
import { LatticeTypeMismatchError } from "../errors/index.js";
import { userKey } from "../state/index.js";
import type { Store, ThenWrite } from "../storage/index.js";
import { TxnAbortedError, TxnFencedError } from "../errors/index.js";
import type { ResolvedTxnOptions } from "./options.js";
import { checkTid, decodeSlot, encodeFence, encodeRecord, recordKey } from "./record.js";
import type { TxnRecord, VersionValue } from "./record.js";
import { CommitStamps } from "./stamps.js";
import type { StampOutcome, Stamped } from "./stamps.js";
import { writeBack } from "./write-back.js";

/**
 * One write of a commit: a whole value (`0`: a last-writer-wins value, or null to delete) or a
 * lattice merged into what the key holds (`1`), joined with every other committed write.
 */
export type CommitWrite = readonly [key: string, mode: 0 | 1, value: Lattice | null];

/** A commit request: what the transaction wrote, in the order it wrote it. */
export interface CommitRequest {
  tid: string;
  epoch: number;
  start: Timestamp;
  /** The snapshot the transaction read through (released by the commit). */
  snapshot?: string;
  writes: readonly CommitWrite[];
  /** Stored with the record: what a retry of the same request gets back. */
  result?: Uint8Array;
  /** Write a record even with no writes (exactly-once runs: the record is the deduplication). */
  always?: boolean;
}

/** A commit's outcome. `duplicate`: the record existed (an earlier attempt of the same request). */
export interface CommitResult {
  ts: Timestamp | undefined;
  rid: string | undefined;
  result?: Uint8Array;
  duplicate: boolean;
}

/** What the committer needs of its manager. */
export interface CommitHost {
  readonly committing: Set<string>;
  /** `decoded`: the record's versions as lattices, when the caller has them (no decode). */
  adopt(r: TxnRecord, decoded?: Map<string, Lattice | null>): boolean;
  ownRecord(rid: string, result: boolean): void;
}

/**
 * The commit protocol of one manager: the record's `putIfAbsent` as the commit point, fences of
 * superseded attempts, outcomes when storage fails mid-commit, and the write-back into the plain
 * keys before any commit is answered.
 *
 * @example
 * ```ts
 * const committer = new Committer(store, clock, manager, options);
 * await committer.commit({ tid, epoch: 1, start, writes: [["k", 0, LwwLattice.of(1, ZERO)]] });
 * ```
 */
export class Committer {
  private readonly stamps = new CommitStamps();
  /** Lattice kinds of plain keys, as last seen: a commit checks a key's kind once. */
  private readonly kinds = new Map<string, LatticeKind>();

  constructor(
    private readonly store: Store,
    private readonly clock: HybridClock,
    private readonly host: CommitHost,
    private readonly o: ResolvedTxnOptions,
    /**
     * Waits before fencing again after storage failed (`attempt` counts from 0). Tests of the
     * unknown outcome pass one that does not wait.
     */
    private readonly pause: (attempt: number) => Promise<void> = (attempt) =>
      new Promise((r) => setTimeout(r, backoffMs(attempt))),
  ) {}

  /**
   * Commits: writes the record (the commit point) with `putIfAbsent` under the attempt's key,
   * then writes the versions into the plain keys (one step with `putIfAbsentThenMerge` where the
   * store has it: one round trip on one Redis server). Returns the existing record's outcome
   * (written back again) when this attempt committed already; throws `TXN_FENCED` when a newer
   * attempt took over, `LATTICE_TYPE_MISMATCH` (nothing written) when a write's kind is not the
   * key's, and `STORAGE_UNAVAILABLE` (retryable: commit again, same tid and epoch) when the
   * outcome could not be learned or the write-back did not finish.
   */
  async commit(c: CommitRequest): Promise<CommitResult> {
    checkTid(c.tid);
    if (c.writes.length === 0 && c.always !== true) {
      return { ts: undefined, rid: undefined, duplicate: false };
    }
    await this.checkKinds(c.writes);
    const ts = this.clock.now();
    const at = (): Timestamp => ts;
    const stamped: Stamped["held"] = [];
    const decoded = new Map<string, Lattice | null>();
    const writes: [string, VersionValue][] = c.writes.map(([k, , l]) => {
      if (l === null) {
        decoded.set(k, null);
        return [k, null];
      }
      // Every counter delta is stamped, whatever the mode: a version must be exact, since the
      // write-back may run twice and the store takes no unstamped delta with a record.
      const s = this.stamps.stamp(k, stampTime(l, at));
      stamped.push(...s.held);
      const v = s.lattice;
      decoded.set(k, v);
      return [k, encodeLattice(v)];
    });
    const record: TxnRecord = { tid: c.tid, epoch: c.epoch, ts, writes };
    if (c.result !== undefined) record.result = c.result;
    const key = recordKey(c.tid, c.epoch);
    const rid = `${c.tid}.${c.epoch}`;
    let outcome: "stored" | "partial" | "present" | undefined;
    this.host.committing.add(rid);
    try {
      const stored = encodeRecord(record);
      // The record and its write-back in one round trip where the store can.
      if (this.store.putIfAbsentThenMerge !== undefined) {
        const then = [...decoded].map(([k, l]): ThenWrite =>
          l === null ? [userKey(k), null, ts] : [userKey(k), l],
        );
        outcome = await this.store.putIfAbsentThenMerge(key, stored, then);
      }
      // Two steps otherwise: stored, the write-back still to do, as after a partial one.
      outcome ??= (await this.store.putIfAbsent(key, stored)) ? "partial" : "present";
    } catch (e) {
      if (!isStratusError(e) || e.code !== "STORAGE_UNAVAILABLE") {
        this.stamps.settle(stamped, "aborted");
        throw e;
      }
      return await this.resolveUnknown(key, c, ts, stamped);
    } finally {
      this.host.committing.delete(rid);
    }
    if (outcome === "present") {
      this.stamps.settle(stamped, "aborted");
      return this.existing(key, c);
    }
    this.stamps.settle(stamped, "committed");
    return this.landed(record, false, decoded, outcome === "stored");
  }

  /** A record that landed (this commit's, or one found): known here, then written back. */
  private async landed(
    r: TxnRecord,
    duplicate: boolean,
    decoded?: Map<string, Lattice | null>,
    writtenBack = false,
  ): Promise<CommitResult> {
    const rid = `${r.tid}.${r.epoch}`;
    if (this.host.adopt(r, decoded) && !duplicate) this.host.ownRecord(rid, r.result !== undefined);
    try {
      const skipped = writtenBack ? [] : await writeBack(this.store, r, decoded);
      for (const k of skipped) this.kinds.delete(k);
    } catch (e) {
      throw new StorageUnavailableError(
        `transaction ${r.tid} committed, but writing it into the plain keys failed; commit again ` +
          "(it commits once) to finish",
        { cause: e, details: { tid: r.tid, epoch: r.epoch, committed: true } },
      );
    }
    const out: CommitResult = { ts: r.ts, rid, duplicate };
    if (r.result !== undefined) out.result = r.result;
    return out;
  }

  /**
   * Refuses writes of another kind than the plain key holds (`LATTICE_TYPE_MISMATCH`) before
   * anything is committed: a version that could never be written back would be lost. Kinds seen
   * once are remembered, so a key's kind costs one read per process.
   */
  private async checkKinds(writes: readonly CommitWrite[]): Promise<void> {
    const unknown: [string, Lattice][] = [];
    for (const [k, , l] of writes) {
      if (l === null) continue;
      const known = this.kinds.get(k);
      if (known === undefined) unknown.push([k, l]);
      else if (known !== l.kind) throw LatticeTypeMismatchError.of(known, l.kind, k);
    }
    if (unknown.length === 0) return;
    const stored = await this.store.getMany(unknown.map(([k]) => userKey(k)));
    unknown.forEach(([k, l], i) => {
      const kind = stored[i]?.kind ?? l.kind;
      if (kind !== l.kind) throw LatticeTypeMismatchError.of(kind, l.kind, k);
      this.kinds.set(k, kind);
    });
    while (this.kinds.size > 100_000) this.kinds.delete(this.kinds.keys().next().value as string);
  }

  /** The commit key was written already: by this attempt (a retry of commit) or by a fence. */
  private async existing(key: string, c: CommitRequest): Promise<CommitResult> {
    const l = await this.store.get(key);
    const slot = l === undefined ? undefined : decodeSlot(l);
    if (slot === undefined) throw new TxnAbortedError(`transaction ${c.tid} was collected`);
    if (slot.kind === "fence") {
      const later = await this.laterRecord(c.tid, c.epoch);
      if (later !== undefined) return this.landed(later, true);
      throw new TxnFencedError(`attempt ${c.epoch} of ${c.tid} was superseded by a newer attempt`);
    }
    return this.landed(slot.record, true);
  }

  /**
   * The record a newer attempt than `epoch` committed, if one did (a fenced attempt then answers
   * with the run's actual outcome). Reads only: it fences nothing, so it never races the newer
   * attempt it looks for.
   */
  private async laterRecord(tid: string, epoch: number): Promise<TxnRecord | undefined> {
    for (let e = epoch + 1; e < epoch + 1000; e++) {
      const l = await this.store.get(recordKey(tid, e));
      if (l === undefined) return undefined;
      const slot = decodeSlot(l);
      if (slot.kind === "record") return slot.record;
    }
    return undefined;
  }

  /**
   * The record write failed with an unknown outcome: fence the attempt's own key. If the fence
   * lands, nothing was committed (a definite, retryable abort); if the key holds this commit's
   * record, it committed (and is this commit's own, not a duplicate).
   */
  private async resolveUnknown(
    key: string,
    c: CommitRequest,
    ts: Timestamp,
    stamped: Stamped["held"],
  ): Promise<CommitResult> {
    // Slots are released once: released twice, one slot would be handed to two commits in
    // flight, and one of their increments would be lost.
    let settled = false;
    const settle = (outcome: StampOutcome): void => {
      if (!settled) this.stamps.settle(stamped, outcome);
      settled = true;
    };
    for (let i = 0; i < 5; i++) {
      try {
        if (await this.store.putIfAbsent(key, encodeFence())) {
          settle("aborted");
          await this.store.expire(key, this.o.retentionMs).catch(() => undefined);
          throw new TxnAbortedError(`storage failed while ${c.tid} committed; nothing was written`);
        }
        const l = await this.store.get(key);
        const slot = l === undefined ? undefined : decodeSlot(l);
        if (slot?.kind === "record" && slot.record.ts === ts) {
          settle("committed");
          return await this.landed(slot.record, false);
        }
        settle("aborted");
        return await this.existing(key, c);
      } catch (e) {
        if (!isStratusError(e) || e.code !== "STORAGE_UNAVAILABLE") throw e;
        // The outcome is known; what failed after it (a write-back, say) is the answer.
        if (settled) throw e;
        await this.pause(i);
      }
    }
    settle("unknown");
    throw new StorageUnavailableError(
      `the outcome of committing ${c.tid} is unknown; commit again with the same transaction`,
      { details: { tid: c.tid, epoch: c.epoch } },
    );
  }

  /**
   * Starts a new attempt of run `tid` (a retry): fences every earlier attempt that has not
   * committed, so none of them can commit any more. Returns the committed record when one did,
   * written back first (its committer may have crashed before doing so).
   */
  async supersede(tid: string): Promise<{ epoch: number } | { record: TxnRecord }> {
    checkTid(tid);
    for (let e = 1; e < 1_000_000; e++) {
      const key = recordKey(tid, e);
      if (await this.store.putIfAbsent(key, encodeFence())) {
        // Off the critical path: a fence only has to outlive the attempts it stops.
        void this.store.expire(key, this.o.retentionMs).catch(() => undefined);
        return { epoch: e + 1 };
      }
      const l = await this.store.get(key);
      if (l === undefined) {
        e--; // collected between the two calls: claim it again
        continue;
      }
      const slot = decodeSlot(l);
      if (slot.kind === "record") {
        if (slot.record.compacted !== true) await this.landed(slot.record, true);
        return { record: slot.record };
      }
    }
    throw new TxnAbortedError(`run ${tid} has too many attempts`);
  }

  /** The committed record of run `tid` at `epoch`, if any (without fencing). */
  async find(tid: string, epoch: number): Promise<TxnRecord | undefined> {
    checkTid(tid);
    const l = await this.store.get(recordKey(tid, epoch));
    const slot = l === undefined ? undefined : decodeSlot(l);
    return slot?.kind === "record" ? slot.record : undefined;
  }
}

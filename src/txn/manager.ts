import { isStratusError } from "../errors/index.js";
import { CounterLattice, decodeLattice, mergeLattices, parseTimestamp } from "../lattice/index.js";
import type { HybridClock, Lattice, Timestamp } from "../lattice/index.js";
import { userKey } from "../state/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { Committer } from "./commit.js";
import type { CommitRequest, CommitResult } from "./commit.js";
import { TxnAbortedError } from "../errors/index.js";
import { resolveTxnOptions } from "./options.js";
import type { ResolvedTxnOptions, TxnManagerOptions } from "./options.js";
import { TXN_PREFIX, decodeSlot, encodeRecord, recordKey, ridOf, splitRid } from "./record.js";
import type { TxnRecord } from "./record.js";
import type { SnapshotSource } from "./snapshot.js";
import { SnapshotTable } from "./snapshots.js";
import { isTxnWriter } from "./stamps.js";
import { VersionIndex } from "./version-index.js";
import { writeBack } from "./write-back.js";

export type { CommitRequest, CommitResult, CommitWrite } from "./commit.js";
export type { TxnManagerOptions } from "./options.js";

/** Counters for tests and status. */
export interface TxnStats {
  commits: number;
  learned: number;
  recovered: number;
  collected: number;
  orphans: number;
  conflicts: number;
  syncs: number;
  knownCommits: number;
  cachedRecords: number;
  snapshots: number;
}

/** What a snapshot read needs to name its transaction. */
export interface SnapshotRead {
  /** Snapshot id: `<tid>.<epoch>`. */
  id: string;
  start: Timestamp;
  deadline: number;
  /** Reads the caller knows this snapshot answered already (see {@link SnapshotTable.open}). */
  readsBefore: number;
}

/**
 * One process's transaction manager: commits read-atomic transactions over any {@link Store},
 * writes each commit into the plain keys, and serves snapshot reads as the home of transactions.
 *
 * One state: a key holds one lattice whichever API or level writes it. A commit's record (one
 * `putIfAbsent`, the commit point) holds every version the transaction wrote, counters stamped
 * so that joining a version twice counts it once; right after it lands (in the same step where
 * the store can, see `Store.putIfAbsentThenMerge`), the committer merges each version into the
 * plain key (`u/<key>`, the write-back) and only then answers. Plain readers
 * read the plain keys; a transactional read joins the plain value with the versions this process
 * knows that may not be written back yet (a crashed committer's, until an orphan sweep writes them
 * back), choosing among them by the read-atomic rule ({@link TxnSnapshot}).
 *
 * Managers learn each other's commits from the store's change stream (`subscribe` on the record
 * prefix), rescan storage now and then for notifications lost, and drop a commit from their index
 * once its record is collected (its committer deletes it `gcGraceMs` after the commit).
 *
 * @example
 * ```ts
 * const mgr = await TxnManager.start({ store, clock });
 * const tx = await Transaction.begin(localBackend(mgr, clock));
 * tx.putBytes("a", encodeValue(1)); tx.putBytes("b", encodeValue(1));
 * await tx.commit(); // both or neither become visible, to every reader
 * await mgr.close();
 * ```
 */
export class TxnManager implements SnapshotSource {
  readonly index = new VersionIndex();
  readonly snapshots: SnapshotTable;
  readonly o: ResolvedTxnOptions;
  private readonly store: Store;
  private readonly clock: HybridClock;
  private readonly committer: Committer;
  /** Record id → the versions it wrote (immutable, so never invalidated). Insertion order = LRU. */
  private readonly values = new Map<string, Map<string, Lattice | null>>();
  /** Record ids that hold no versions (fences, compacted records): not fetched again on scans. */
  private readonly ignored = new Map<string, number>();
  /** Records this manager writes: their notification needs no fetch. */
  readonly committing = new Set<string>();
  /** Records this manager committed (or adopted as orphans), with when, for collection. */
  private readonly own = new Map<string, { at: number; result: boolean }>();
  /** Per key, the join of its known versions (see `joined`), with the last learn order it holds. */
  private readonly joins = new Map<
    string,
    { upTo: number; value: Lattice | undefined; delTs: Timestamp | undefined }
  >();
  /** Learn order of each known commit, for incremental joins. */
  private readonly order = new Map<string, number>();
  private learnSeq = 0;
  /** Learns in flight: a sync waits for them. */
  private readonly learning = new Set<Promise<void>>();
  private waitingSync: Promise<void> | undefined;
  private runningSync: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly waiters = new Map<string, (() => void)[]>();
  private sub: Subscription | undefined;
  private closed = false;
  readonly stats: TxnStats = {
    commits: 0,
    learned: 0,
    recovered: 0,
    collected: 0,
    orphans: 0,
    conflicts: 0,
    syncs: 0,
    knownCommits: 0,
    cachedRecords: 0,
    snapshots: 0,
  };

  private constructor(o: TxnManagerOptions) {
    this.store = o.store;
    this.clock = o.clock;
    this.o = resolveTxnOptions(o);
    this.snapshots = new SnapshotTable(this, this.o.snapshots);
    this.committer = new Committer(this.store, this.clock, this, this.o);
  }

  get maxTxnMs(): number {
    return this.o.maxTxnMs;
  }

  /** Subscribes to commits, loads every record in storage, and starts the timers. */
  static async start(o: TxnManagerOptions): Promise<TxnManager> {
    const m = new TxnManager(o);
    m.sub = await o.store.subscribe(TXN_PREFIX, (ev) => {
      if (ev.kind === "reset") {
        void m.recover().catch(() => undefined);
        return;
      }
      const rid = ridOf(ev.key);
      if (rid === undefined) return;
      if (ev.kind !== "put") return m.forget(rid);
      // A known commit's record changes only when it is compacted, a grace period after it:
      // its own write (seen by its committer, or learned) needs no fetch.
      const known = m.index.meta(rid);
      if (known !== undefined && parseTimestamp(known.ts).wallMs > Date.now() - m.o.graceMs / 2) {
        return;
      }
      m.track(m.learn(rid));
    });
    await m.recover();
    if (m.o.gcIntervalMs > 0) m.every(m.o.gcIntervalMs, () => m.gc());
    if (m.o.recoveryIntervalMs > 0) m.every(m.o.recoveryIntervalMs, () => m.recover());
    return m;
  }

  private every(ms: number, f: () => Promise<unknown>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      // A failed pass (storage briefly down) is retried at the next tick.
      f().then(
        () => (running = false),
        () => (running = false),
      );
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private track(p: Promise<void>): void {
    const q = p.catch(() => undefined);
    this.learning.add(q);
    void q.finally(() => this.learning.delete(q));
  }

  // ---- Commits -------------------------------------------------------------------------------

  /**
   * Commits: writes the record (the commit point) with `putIfAbsent`, then writes every version
   * into its plain key. See {@link Committer.commit} for the outcomes.
   */
  async commit(c: CommitRequest): Promise<CommitResult> {
    this.checkAge(c.start);
    const snap = c.snapshot === undefined ? undefined : this.snapshots.get(c.snapshot);
    const seen = snap?.maxTs();
    if (seen !== undefined) this.clock.observe(seen);
    try {
      return await this.committer.commit(c);
    } finally {
      if (c.snapshot !== undefined) this.snapshots.release(c.snapshot);
    }
  }

  /**
   * Starts a new attempt of run `tid` (a retry): fences every earlier attempt that has not
   * committed. Returns the committed record when one did (written back first).
   */
  supersede(tid: string): Promise<{ epoch: number } | { record: TxnRecord }> {
    return this.committer.supersede(tid);
  }

  /** The committed record of run `tid` at `epoch`, if any (without fencing). */
  find(tid: string, epoch: number): Promise<TxnRecord | undefined> {
    return this.committer.find(tid, epoch);
  }

  checkAge(start: Timestamp): void {
    const age = Date.now() - parseTimestamp(start).wallMs;
    if (age > this.o.maxTxnMs) {
      throw new TxnAbortedError(
        `transaction older than ${this.o.maxTxnMs} ms (maxTxnMs); start it again`,
      );
    }
  }

  // ---- Snapshot reads ------------------------------------------------------------------------

  /** Reads `key` in the snapshot `s` names (created here when new: this node is its home). */
  async read(s: SnapshotRead, key: string): Promise<Lattice | undefined> {
    this.checkAge(s.start);
    try {
      return await this.snapshots.read(s.id, s.start, s.deadline, s.readsBefore, key);
    } catch (e) {
      if (isStratusError(e) && e.code === "SNAPSHOT_CONFLICT") this.stats.conflicts++;
      throw e;
    }
  }

  /** Drops snapshot `id` (its transaction aborted, or another node committed it). */
  release(id: string): void {
    this.snapshots.release(id);
  }

  /** {@link SnapshotSource.base}: the plain value, with every commit it may hold known. */
  async base(key: string): Promise<Lattice | undefined> {
    const l = await this.store.get(userKey(key));
    if (l === undefined) return undefined;
    if (l.kind === "lww") this.clock.observe(l.ts);
    if (await this.mayHoldUnknown(key, l)) await this.sync();
    return l;
  }

  /**
   * Whether plain value `l` of `key` may hold a commit this manager has not learned yet (its
   * write-back outran the change notification). When it cannot tell, true.
   */
  private async mayHoldUnknown(key: string, l: Lattice): Promise<boolean> {
    const vs = this.index.versions(key);
    if (l.kind === "lww") {
      if (vs.some((t) => t.ts === l.ts)) return false;
      // Older than any record still in storage: a commit that old is known or collected.
      return parseTimestamp(l.ts).wallMs > Date.now() - this.o.orphanMs;
    }
    if (l.kind === "counter") {
      let joined: Lattice | undefined;
      for (const [w, [up, down]] of l.entries) {
        if (!isTxnWriter(w)) continue;
        joined ??= (await this.joined(key)).value ?? NO_COUNTER;
        const have = joined.kind === "counter" ? joined.entries.get(w) : undefined;
        if (have === undefined || have[0] < up || have[1] < down) return true;
      }
      return false;
    }
    return true;
  }

  /**
   * Resolves once every commit whose record was written before the call is known here: the
   * store's change stream has delivered what it published (`Store.sync`), and the learns those
   * notifications started are done. Calls that overlap share one round.
   */
  sync(): Promise<void> {
    if (this.waitingSync !== undefined) return this.waitingSync;
    const next = (async () => {
      await this.runningSync?.catch(() => undefined);
      this.waitingSync = undefined;
      this.stats.syncs++;
      const round = (async () => {
        await this.store.sync?.();
        await Promise.all([...this.learning]);
      })();
      this.runningSync = round;
      return round;
    })();
    this.waitingSync = next;
    return next;
  }

  /** {@link SnapshotSource.versionValue}: from the cache, else from the record. */
  async versionValue(rid: string, key: string): Promise<Lattice | null> {
    let v = this.values.get(rid);
    if (v === undefined) {
      const [tid, epoch] = splitRid(rid);
      const l = await this.store.get(recordKey(tid, epoch));
      const slot = l === undefined ? undefined : decodeSlot(l);
      if (slot?.kind !== "record" || slot.record.compacted === true) {
        throw new TxnAbortedError(`version ${rid} of ${key} was collected; start again`);
      }
      v = decodedWrites(slot.record);
    }
    this.cache(rid, v);
    const out = v.get(key);
    if (out === undefined) throw new TxnAbortedError(`${rid} wrote no version of ${key}`);
    return out;
  }

  /** {@link SnapshotSource.joined}: kept per key and extended as versions are learned. */
  async joined(key: string): Promise<{ value: Lattice | undefined; delTs: Timestamp | undefined }> {
    const vs = this.index.versions(key);
    const cached = this.joins.get(key);
    let value = cached?.value;
    let delTs = cached?.delTs;
    let upTo = cached?.upTo ?? -1;
    // Versions learned since the cached join, in commit order. One that sorts before a delete
    // already joined, or a new delete, needs the whole join again.
    let fresh = vs.filter((t) => (this.order.get(t.rid) ?? 0) > upTo);
    if (cached !== undefined && fresh.some((t) => delTs !== undefined && t.ts < delTs)) {
      fresh = [...vs];
      value = undefined;
      delTs = undefined;
    }
    for (const t of fresh) {
      const w = await this.versionValue(t.rid, key);
      if (w === null) {
        if (delTs === undefined || t.ts > delTs) {
          delTs = t.ts;
          value = undefined;
        }
      } else if (delTs === undefined || t.ts > delTs) {
        value = value === undefined ? w : mergeLattices(value, w, key);
      }
      upTo = Math.max(upTo, this.order.get(t.rid) ?? 0);
    }
    this.joins.delete(key);
    this.joins.set(key, { upTo, value, delTs });
    if (this.joins.size > 10_000) this.joins.delete(this.joins.keys().next().value as string);
    return { value, delTs };
  }

  // ---- Learning ------------------------------------------------------------------------------

  /** Resolves once this manager knows commit `rid` (by notification, scan or its own commit). */
  known(rid: string): Promise<void> {
    if (this.index.meta(rid) !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(rid) ?? [];
      list.push(resolve);
      this.waiters.set(rid, list);
    });
  }

  /** Learns one commit record by id, if it is not known yet (fetching it from storage). */
  async learn(rid: string): Promise<void> {
    if (this.committing.has(rid)) return;
    if (this.ignored.has(rid)) return;
    const [tid, epoch] = splitRid(rid);
    const l = await this.store.get(recordKey(tid, epoch));
    this.take(rid, l);
  }

  /** Takes in what a record key holds (read by `learn` or a scan). */
  private take(rid: string, l: Lattice | undefined): void {
    if (l === undefined) {
      this.forget(rid);
      return;
    }
    const slot = decodeSlot(l);
    if (slot.kind === "fence" || slot.record.compacted === true) {
      this.ignored.set(rid, Date.now());
      this.forget(rid);
      return;
    }
    if (this.adopt(slot.record)) this.stats.learned++;
  }

  /** Adds a record to the index and caches its values. */
  adopt(r: TxnRecord, decoded?: Map<string, Lattice | null>): boolean {
    if (r.compacted === true) return false;
    const rid = `${r.tid}.${r.epoch}`;
    this.clock.observe(r.ts);
    const added = this.index.add(
      rid,
      r.ts,
      r.writes.map(([k]) => k),
      Date.now(),
    );
    if (added) {
      this.order.set(rid, ++this.learnSeq);
      this.cache(rid, decoded ?? decodedWrites(r));
      const w = this.waiters.get(rid);
      this.waiters.delete(rid);
      for (const f of w ?? []) f();
    }
    return added;
  }

  /** Forgets a commit whose record is gone (collected, or compacted to its result). */
  forget(rid: string): void {
    if (this.index.remove(rid)) this.order.delete(rid);
    this.values.delete(rid);
  }

  /**
   * Notes a record this manager committed, at its commit point (so a commit whose write-back
   * failed counts once): it collects it once the grace period is over.
   */
  ownRecord(rid: string, result: boolean): void {
    this.stats.commits++;
    this.own.set(rid, { at: Date.now(), result });
  }

  private cache(rid: string, v: Map<string, Lattice | null>): void {
    this.values.delete(rid);
    this.values.set(rid, v);
    while (this.values.size > this.o.cacheRecords) {
      this.values.delete(this.values.keys().next().value as string);
    }
  }

  /**
   * Scans storage for commit records: learns those not known here (lost notifications, a fresh
   * start), forgets known ones that are gone, and writes back and collects orphans (records a
   * crashed committer left behind).
   */
  async recover(): Promise<number> {
    const present = new Set<string>();
    const unknown: string[] = [];
    for await (const key of this.store.scan(TXN_PREFIX)) {
      const rid = ridOf(key);
      if (rid === undefined) continue;
      present.add(rid);
      if (this.index.meta(rid) === undefined && !this.ignored.has(rid) && !this.committing.has(rid))
        unknown.push(rid);
    }
    let found = 0;
    // Fetched in batches: one round trip per batch, not per record.
    for (let i = 0; i < unknown.length; i += 128) {
      const batch = unknown.slice(i, i + 128);
      const got = await this.store.getMany(batch.map((rid) => recordKey(...splitRid(rid))));
      batch.forEach((rid, j) => {
        const before = this.index.size;
        this.take(rid, got[j]);
        if (this.index.size > before) found++;
      });
    }
    for (const m of [...this.index.all()]) {
      if (!present.has(m.rid) && !this.committing.has(m.rid)) this.forget(m.rid);
    }
    this.stats.recovered += found;
    await this.sweepOrphans();
    return found;
  }

  /** Known records old enough that their committer must be gone: written back and collected. */
  private async sweepOrphans(): Promise<void> {
    const horizon = Date.now() - this.o.orphanMs;
    for (const m of [...this.index.all()]) {
      if (this.own.has(m.rid) || parseTimestamp(m.ts).wallMs > horizon) continue;
      const [tid, epoch] = splitRid(m.rid);
      const l = await this.store.get(recordKey(tid, epoch));
      const slot = l === undefined ? undefined : decodeSlot(l);
      if (slot?.kind !== "record" || slot.record.compacted === true) {
        this.forget(m.rid);
        continue;
      }
      await writeBack(this.store, slot.record);
      this.stats.orphans++;
      if (this.o.collectStorage) await this.collect(m.rid, slot.record.result !== undefined);
      this.forget(m.rid);
    }
  }

  /**
   * Collects this manager's own records once the grace period is over: deleted, or for
   * exactly-once runs reduced to their result, which stays for `retentionMs`.
   */
  async gc(now = Date.now()): Promise<number> {
    const due: string[] = [];
    for (const [rid, o] of this.own) {
      if (o.at > now - this.o.graceMs) break; // insertion order is commit order
      due.push(rid);
    }
    for (const [rid, at] of this.ignored)
      if (at < now - this.o.retentionMs) this.ignored.delete(rid);
    for (const rid of due) {
      const o = this.own.get(rid)!;
      if (this.o.collectStorage) await this.collect(rid, o.result);
      this.own.delete(rid);
      this.forget(rid);
      this.stats.collected++;
    }
    return due.length;
  }

  private async collect(rid: string, withResult: boolean): Promise<void> {
    const [tid, epoch] = splitRid(rid);
    const key = recordKey(tid, epoch);
    if (!withResult) return this.store.delete(key);
    this.ignored.set(rid, Date.now()); // the stub stays until it expires: do not fetch it again
    const l = await this.store.get(key);
    const slot = l === undefined ? undefined : decodeSlot(l);
    if (slot?.kind !== "record" || slot.record.compacted === true) return;
    const r = slot.record;
    const stub: TxnRecord = { tid, epoch, ts: r.ts, writes: [], compacted: true };
    if (r.result !== undefined) stub.result = r.result;
    await this.store.put(key, encodeRecord(stub));
    await this.store.expire(key, this.o.retentionMs);
  }

  /** Current counters. */
  snapshot(): TxnStats {
    return {
      ...this.stats,
      knownCommits: this.index.size,
      cachedRecords: this.values.size,
      snapshots: this.snapshots.size,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.snapshots.close();
    await this.sub?.close();
  }
}

/** What a join of no counter versions holds. */
const NO_COUNTER: Lattice = new CounterLattice();

/** A record's versions, decoded. */
function decodedWrites(r: TxnRecord): Map<string, Lattice | null> {
  return new Map(r.writes.map(([k, v]) => [k, v === null ? null : decodeLattice(v)]));
}

import { InvalidArgumentError, StorageUnavailableError, isStratusError } from "../errors/index.js";
import { decodeLattice, encodeLattice, parseTimestamp, stampTime } from "../lattice/index.js";
import type { HybridClock, Lattice, Timestamp } from "../lattice/index.js";
import { userKey } from "../state/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { TxnAbortedError, TxnFencedError } from "./errors.js";
import {
  TXN_PREFIX,
  checkTid,
  decodeSlot,
  encodeFence,
  encodeRecord,
  recordKey,
  ridOf,
} from "./record.js";
import type { Slot, TxnRecord, VersionValue } from "./record.js";
import { VersionIndex } from "./version-index.js";
import type { ReadSet } from "./version-index.js";

/** Options of {@link TxnManager}. */
export interface TxnManagerOptions {
  store: Store;
  clock: HybridClock;
  /**
   * Longest a transaction (or one attempt of a read-atomic run) may live; reads and commits of
   * an older one fail with `TXN_ABORTED` (retryable). Bounds what garbage collection must keep.
   * @default 30000
   */
  maxTxnMs?: number;
  /**
   * How long a version stays after a newer committed version of every key its transaction wrote
   * is known here. Must exceed `maxTxnMs` plus how late commits reach other nodes.
   * @default maxTxnMs + 30000
   */
  gcGraceMs?: number;
  /** How often garbage is collected. 0 turns the timer off (call `gc()`). @default 1000 */
  gcIntervalMs?: number;
  /**
   * How often storage is scanned for commit records this node never heard of (a change
   * notification lost). 0 turns the timer off. @default 10000
   */
  recoveryIntervalMs?: number;
  /** How long fences and the results of exactly-once runs stay. @default 3600000 (1 hour) */
  retentionMs?: number;
  /** Records whose values are cached here (they never change). @default 4096 */
  cacheRecords?: number;
  /** Whether this manager deletes collected records from storage. @default true */
  collectStorage?: boolean;
}

/** What a read returns: the version chosen and its lattice (undefined: the key holds nothing). */
export interface TxnRead {
  rid: string | null;
  value: Lattice | undefined;
}

/** A commit request: the final version of every written key (null deletes it). */
export interface CommitRequest {
  tid: string;
  epoch: number;
  start: Timestamp;
  reads: ReadSet;
  writes: readonly (readonly [string, Lattice | null])[];
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

/** Counters for tests and status. */
export interface TxnStats {
  commits: number;
  learned: number;
  recovered: number;
  collected: number;
  knownCommits: number;
  cachedRecords: number;
}

/**
 * One node's transaction manager: commits read-atomic transactions over any {@link Store} and
 * serves read-atomic reads. Managers on different nodes learn each other's commits from the
 * store's change stream (`subscribe` on the record prefix), fetch any commit a transaction read
 * that they have not heard of yet, and rescan storage now and then for notifications lost.
 *
 * @example
 * ```ts
 * const mgr = await TxnManager.start({ store, clock });
 * const tx = new Transaction(localBackend(mgr));
 * tx.put("a", encodeValue(1)); tx.put("b", encodeValue(1));
 * await tx.commit(); // both or neither become visible
 * await mgr.close();
 * ```
 */
export class TxnManager {
  readonly index = new VersionIndex();
  private readonly store: Store;
  private readonly clock: HybridClock;
  readonly maxTxnMs: number;
  private readonly graceMs: number;
  private readonly retentionMs: number;
  private readonly cacheMax: number;
  private readonly collectStorage: boolean;
  /** Record id → the versions it wrote (immutable, so never invalidated). Insertion order = LRU. */
  private readonly values = new Map<string, Map<string, VersionValue>>();
  /** Record ids that hold no versions (fences, compacted records): not fetched again on scans. */
  private readonly ignored = new Map<string, number>();
  /** Records this manager is writing: their notification needs no fetch, the commit adopts them. */
  private readonly committing = new Set<string>();
  /** Records with a stored result, so collection compacts instead of deleting them. */
  private readonly withResult = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Callers of {@link known} waiting for a commit to be learned. */
  private readonly waiters = new Map<string, (() => void)[]>();
  private sub: Subscription | undefined;
  private closed = false;
  readonly stats: TxnStats = {
    commits: 0,
    learned: 0,
    recovered: 0,
    collected: 0,
    knownCommits: 0,
    cachedRecords: 0,
  };

  private constructor(o: TxnManagerOptions) {
    this.store = o.store;
    this.clock = o.clock;
    this.maxTxnMs = positive("maxTxnMs", o.maxTxnMs, 30_000);
    this.graceMs = positive("gcGraceMs", o.gcGraceMs, this.maxTxnMs + 30_000);
    if (this.graceMs < this.maxTxnMs) {
      throw InvalidArgumentError.field("gcGraceMs", "must be at least maxTxnMs");
    }
    this.retentionMs = positive("retentionMs", o.retentionMs, 3_600_000);
    this.cacheMax = positive("cacheRecords", o.cacheRecords, 4096);
    this.collectStorage = o.collectStorage ?? true;
  }

  /** Subscribes to commits, loads every record in storage, and starts the timers. */
  static async start(o: TxnManagerOptions): Promise<TxnManager> {
    const m = new TxnManager(o);
    m.sub = await o.store.subscribe(TXN_PREFIX, (ev) => {
      if (ev.kind === "put") {
        const rid = ridOf(ev.key);
        if (rid !== undefined) void m.learn(rid).catch(() => undefined);
      } else if (ev.kind === "reset") {
        void m.recover().catch(() => undefined);
      }
    });
    await m.recover();
    const gcEvery = o.gcIntervalMs ?? 1000;
    const scanEvery = o.recoveryIntervalMs ?? 10_000;
    if (gcEvery > 0) m.every(gcEvery, () => m.gc());
    if (scanEvery > 0) m.every(scanEvery, () => m.recover());
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

  /**
   * Reads `key` as a transaction with read set `reads` may (read-atomic: no fractured and no
   * dirty reads). Commits the read set names that this node has not heard of are fetched first.
   */
  async read(key: string, reads: ReadSet, start: Timestamp): Promise<TxnRead> {
    this.checkAge(start);
    const unknown = [...reads.values()].filter(
      (rid): rid is string => rid !== null && this.index.meta(rid) === undefined,
    );
    if (unknown.length > 0) await Promise.all(unknown.map((rid) => this.learn(rid)));
    const rid = this.index.choose(key, reads);
    if (rid === null) {
      const l = await this.store.get(userKey(key));
      if (l !== undefined) observeLww(this.clock, l);
      return { rid: null, value: l };
    }
    const v = await this.version(rid, key);
    return { rid, value: v === null ? undefined : decodeLattice(v) };
  }

  /**
   * Commits: writes the record (the commit point) with `putIfAbsent` under the attempt's key.
   * Returns the existing record's outcome when this attempt committed already; throws
   * `TXN_FENCED` when a newer attempt took over, `TXN_ABORTED` when it is too old, and
   * `STORAGE_UNAVAILABLE` (retryable: commit again, same tid and epoch) when the outcome could
   * not be learned.
   */
  async commit(c: CommitRequest): Promise<CommitResult> {
    checkTid(c.tid);
    this.checkAge(c.start);
    if (c.writes.length === 0 && c.always !== true) {
      return { ts: undefined, rid: undefined, duplicate: false };
    }
    for (const rid of c.reads.values()) {
      const m = rid === null ? undefined : this.index.meta(rid);
      if (m !== undefined) this.clock.observe(m.ts);
    }
    const ts = this.clock.now();
    const at = (): Timestamp => ts;
    const writes: [string, VersionValue][] = c.writes.map(([k, l]) => [
      k,
      l === null ? null : encodeLattice(stampTime(l, at)),
    ]);
    const record: TxnRecord = { tid: c.tid, epoch: c.epoch, ts, writes };
    if (c.result !== undefined) record.result = c.result;
    const key = recordKey(c.tid, c.epoch);
    let stored: boolean;
    const rid = `${c.tid}.${c.epoch}`;
    this.committing.add(rid);
    try {
      stored = await this.store.putIfAbsent(key, encodeRecord(record));
    } catch (e) {
      if (!isStratusError(e) || e.code !== "STORAGE_UNAVAILABLE") throw e;
      return await this.resolveUnknown(key, c);
    } finally {
      this.committing.delete(rid);
    }
    if (!stored) return this.existing(key, c);
    this.stats.commits++;
    this.adopt(record);
    return { ts, rid: `${c.tid}.${c.epoch}`, ...withResult(c.result), duplicate: false };
  }

  /** The commit key was written already: by this attempt (a retry of commit) or by a fence. */
  private async existing(key: string, c: CommitRequest): Promise<CommitResult> {
    const l = await this.store.get(key);
    const slot = l === undefined ? undefined : decodeSlot(l);
    if (slot === undefined) throw new TxnAbortedError(`transaction ${c.tid} was collected`);
    if (slot.kind === "fence") {
      const later = await this.laterRecord(c.tid, c.epoch);
      if (later !== undefined) return committed(later, true);
      throw new TxnFencedError(`attempt ${c.epoch} of ${c.tid} was superseded by a newer attempt`);
    }
    this.adopt(slot.record);
    return committed(slot.record, true);
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
      if (slot.kind === "record") {
        this.adopt(slot.record);
        return slot.record;
      }
    }
    return undefined;
  }

  /**
   * The record write failed with an unknown outcome: fence the attempt's own key. If the fence
   * lands, nothing was committed (a definite, retryable abort); if the key holds the record, it
   * committed.
   */
  private async resolveUnknown(key: string, c: CommitRequest): Promise<CommitResult> {
    for (let i = 0; i < 5; i++) {
      try {
        if (await this.store.putIfAbsent(key, encodeFence())) {
          await this.store.expire(key, this.retentionMs).catch(() => undefined);
          throw new TxnAbortedError(`storage failed while ${c.tid} committed; nothing was written`);
        }
        return await this.existing(key, c);
      } catch (e) {
        if (!isStratusError(e) || e.code !== "STORAGE_UNAVAILABLE") throw e;
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
    throw new StorageUnavailableError(
      `the outcome of committing ${c.tid} is unknown; commit again with the same transaction`,
      { details: { tid: c.tid, epoch: c.epoch } },
    );
  }

  /**
   * Starts a new attempt of run `tid` (a retry): fences every earlier attempt that has not
   * committed, so none of them can commit any more. Returns the committed record when one did.
   */
  async supersede(tid: string): Promise<{ epoch: number } | { record: TxnRecord }> {
    checkTid(tid);
    for (let e = 1; e < 1_000_000; e++) {
      const key = recordKey(tid, e);
      if (await this.store.putIfAbsent(key, encodeFence())) {
        // Off the critical path: a fence only has to outlive the attempts it stops.
        void this.store.expire(key, this.retentionMs).catch(() => undefined);
        return { epoch: e + 1 };
      }
      const l = await this.store.get(key);
      if (l === undefined) {
        e--; // collected between the two calls: claim it again
        continue;
      }
      const slot = decodeSlot(l);
      if (slot.kind === "record") return { record: slot.record };
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

  private checkAge(start: Timestamp): void {
    const age = Date.now() - parseTimestamp(start).wallMs;
    if (age > this.maxTxnMs) {
      throw new TxnAbortedError(`transaction older than ${this.maxTxnMs} ms; start it again`);
    }
  }

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
    if (this.index.meta(rid) !== undefined || this.ignored.has(rid)) return;
    if (this.committing.has(rid)) return;
    const dot = rid.lastIndexOf(".");
    const l = await this.store.get(recordKey(rid.slice(0, dot), Number(rid.slice(dot + 1))));
    if (l === undefined) return;
    const slot: Slot = decodeSlot(l);
    if (slot.kind === "fence" || slot.record.compacted === true) {
      this.ignored.set(rid, Date.now());
      return;
    }
    if (this.adopt(slot.record)) this.stats.learned++;
  }

  /** Adds a record to the index and caches its values. */
  private adopt(r: TxnRecord): boolean {
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
      const w = this.waiters.get(rid);
      this.waiters.delete(rid);
      for (const f of w ?? []) f();
      this.cache(rid, new Map(r.writes));
      if (r.result !== undefined) this.withResult.add(rid);
    }
    return added;
  }

  private cache(rid: string, v: Map<string, VersionValue>): void {
    this.values.delete(rid);
    this.values.set(rid, v);
    while (this.values.size > this.cacheMax) {
      const oldest = this.values.keys().next().value as string;
      this.values.delete(oldest);
    }
  }

  /** The value of a known version of `key` (null: the initial version, the plain stored value). */
  async readVersion(key: string, rid: string | null): Promise<Lattice | undefined> {
    if (rid === null) return this.store.get(userKey(key));
    const v = await this.version(rid, key);
    return v === null ? undefined : decodeLattice(v);
  }

  /** The version `rid` wrote for `key`: from the cache, else from its record. */
  private async version(rid: string, key: string): Promise<VersionValue> {
    let v = this.values.get(rid);
    if (v === undefined) {
      const dot = rid.lastIndexOf(".");
      const l = await this.store.get(recordKey(rid.slice(0, dot), Number(rid.slice(dot + 1))));
      const slot = l === undefined ? undefined : decodeSlot(l);
      if (slot?.kind !== "record" || slot.record.compacted === true) {
        throw new TxnAbortedError(`version ${rid} of ${key} was collected; start again`);
      }
      v = new Map(slot.record.writes);
      this.cache(rid, v);
    } else {
      this.cache(rid, v); // most recently used
    }
    const out = v.get(key);
    if (out === undefined) throw new TxnAbortedError(`${rid} wrote no version of ${key}`);
    return out;
  }

  /** Scans storage for commit records not known here: lost notifications, a fresh start. */
  async recover(): Promise<number> {
    let found = 0;
    for await (const key of this.store.scan(TXN_PREFIX)) {
      const rid = ridOf(key);
      if (rid === undefined || this.index.meta(rid) !== undefined || this.ignored.has(rid))
        continue;
      const before = this.index.size;
      await this.learn(rid);
      if (this.index.size > before) found++;
    }
    this.stats.recovered += found;
    return found;
  }

  /**
   * Collects what no transaction can need any more: commits every key of which has a newer
   * committed version since longer than the grace period. Their records are deleted (or, for
   * exactly-once runs, reduced to the stored result, which expires after the retention).
   */
  async gc(now = Date.now()): Promise<number> {
    const rids = this.index.collect(now - this.graceMs);
    for (const rid of rids) this.values.delete(rid);
    for (const [rid, at] of this.ignored) if (at < now - this.retentionMs) this.ignored.delete(rid);
    if (this.collectStorage) {
      await Promise.all(rids.map((rid) => this.collect(rid)));
    }
    for (const rid of rids) this.withResult.delete(rid);
    this.stats.collected += rids.length;
    return rids.length;
  }

  private async collect(rid: string): Promise<void> {
    const dot = rid.lastIndexOf(".");
    const tid = rid.slice(0, dot);
    const epoch = Number(rid.slice(dot + 1));
    const key = recordKey(tid, epoch);
    if (!this.withResult.has(rid)) return this.store.delete(key);
    this.ignored.set(rid, Date.now()); // the stub stays until it expires: do not fetch it again
    const l = await this.store.get(key);
    const slot = l === undefined ? undefined : decodeSlot(l);
    if (slot?.kind !== "record" || slot.record.compacted === true) return;
    const r = slot.record;
    const stub: TxnRecord = { tid, epoch, ts: r.ts, writes: [], compacted: true };
    if (r.result !== undefined) stub.result = r.result;
    await this.store.put(key, encodeRecord(stub));
    await this.store.expire(key, this.retentionMs);
  }

  /** Current counters. */
  snapshot(): TxnStats {
    return {
      ...this.stats,
      knownCommits: this.index.size,
      cachedRecords: this.values.size,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.sub?.close();
  }
}

function committed(r: TxnRecord, duplicate: boolean): CommitResult {
  return { ts: r.ts, rid: `${r.tid}.${r.epoch}`, ...withResult(r.result), duplicate };
}

function withResult(r: Uint8Array | undefined): { result?: Uint8Array } {
  return r === undefined ? {} : { result: r };
}

function observeLww(clock: HybridClock, l: Lattice): void {
  if (l.kind === "lww") clock.observe(l.ts);
}

function positive(field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw InvalidArgumentError.field(field, "must be positive");
  return v;
}

import { ClosedError, InvalidArgumentError } from "../../errors/index.js";
import { encodeLattice, isTimestamp, mergeLattices } from "../../lattice/index.js";
import type { Lattice } from "../../lattice/index.js";
import { checkKey, checkTtl, checkValue, resolveStoreLimits } from "../store.js";
import type {
  ChangeEvent,
  ChangeListener,
  ResolvedStoreLimits,
  ScanStep,
  Store,
  StoreLimits,
  Subscription,
  ThenWrite,
} from "../store.js";
import { CounterStamps, hasDelta } from "../counters.js";
import type { LoggedThen } from "./log-format.js";
import { AppendLog } from "./append-log.js";
import type { FsyncPolicy, LogRecord, RecoveryReport } from "./append-log.js";
import { Keyspace } from "./keyspace.js";

/** Options of {@link MemoryStore.open}. */
export interface MemoryStoreOptions {
  /**
   * Path of an append-only log. When set, every acknowledged change (writes, deletes, expiries)
   * is in the log before its promise resolves and before anyone sees it, and opening the store
   * again replays it. Only one store, in one process, may have a log open at a time: it is locked
   * with an OS file lock, which the OS releases when the process dies however it dies.
   * @default undefined (no durability)
   */
  logPath?: string;
  /** When a logged write counts as durable; see {@link FsyncPolicy}. @default "always" */
  fsync?: FsyncPolicy;
  /** Sync period for the `interval` policy, in milliseconds. @default 100 */
  fsyncIntervalMs?: number;
  /**
   * Rewrite the log as a snapshot of the live data once it is at least this many bytes and has
   * doubled since the last rewrite. @default 67108864 (64 MiB)
   */
  compactAtBytes?: number;
  limits?: StoreLimits;
}

interface ResolvedMemoryOptions {
  logPath: string | undefined;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  compactAtBytes: number;
  limits: ResolvedStoreLimits;
}

function resolve(o: MemoryStoreOptions): ResolvedMemoryOptions {
  const fsync = o.fsync ?? "always";
  if (!["always", "interval", "never"].includes(fsync)) {
    throw InvalidArgumentError.field("fsync", `must be always, interval or never; got ${fsync}`);
  }
  const interval = o.fsyncIntervalMs ?? 100;
  if (!(interval > 0)) throw InvalidArgumentError.field("fsyncIntervalMs", "must be positive");
  const compactAt = o.compactAtBytes ?? 64 * 1024 * 1024;
  if (!(compactAt > 0)) throw InvalidArgumentError.field("compactAtBytes", "must be positive");
  return {
    logPath: o.logPath,
    fsync,
    fsyncIntervalMs: interval,
    compactAtBytes: compactAt,
    limits: resolveStoreLimits(o.limits),
  };
}

/**
 * The embedded backend: a map in this process, optionally backed by an append-only log. The
 * default for `Stratus.local()` and single-machine deployments.
 *
 * With a log, every change (a merge, a `putIfAbsent`, a delete, an expiry) becomes visible only
 * once it is durable, and changes take effect in the order of their records in the log, so a
 * store reopened after a crash shows what the store showed before it. A `putIfAbsent` is logged
 * as a conditional record and decided when it takes effect, so exactly one of any number of
 * concurrent callers stores. Expiries are logged with their wall-clock deadline: a key whose
 * deadline passed while the store was closed is gone when it reopens, and the others keep the
 * time they had left.
 *
 * @example
 * ```ts
 * const store = await MemoryStore.open({ logPath: "./data/stratus.log", fsync: "always" });
 * await store.put("visits", new MaxLattice(10));
 * ```
 */
export class MemoryStore implements Store {
  readonly backend = "memory";
  /** What replaying the log found when the store opened (zeros without a log). */
  readonly recovery: RecoveryReport;
  private readonly keys: Keyspace;
  private readonly counters = new CounterStamps();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<{ prefix: string; fn: ChangeListener }>();
  private closed = false;
  /** Log size after the last rewrite: compaction waits until the log has doubled since. */
  private baselineBytes = 0;
  private compacting = false;

  private constructor(
    private readonly options: ResolvedMemoryOptions,
    private readonly log: AppendLog | undefined,
    recovery: RecoveryReport,
    keys: Keyspace,
  ) {
    this.recovery = recovery;
    this.keys = keys;
  }

  static async open(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const o = resolve(options);
    if (o.logPath === undefined) {
      return new MemoryStore(o, undefined, { records: 0, truncatedBytes: 0 }, new Keyspace());
    }
    const keys = new Keyspace();
    const { log, report } = await AppendLog.open(o.logPath, o.fsync, o.fsyncIntervalMs, (rec) =>
      keys.replay(rec),
    );
    const store = new MemoryStore(o, log, report, keys);
    store.baselineBytes = log.size;
    try {
      // Keys whose deadline passed while the store was closed go now, and the log says so: a
      // later write to one of them must not bring back what it held.
      const now = Date.now();
      const due = [...keys.expiries].filter(([, e]) => e.deadline <= now).map(([k]) => k);
      await Promise.all(
        due.map((k) =>
          store.commit(
            () => ({ op: "drop", key: k }),
            () => keys.drop(k),
          ),
        ),
      );
      if (keys.expiries.size > 0) store.sweepEvery(1000);
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    return store;
  }

  async get(key: string): Promise<Lattice | undefined> {
    this.open();
    checkKey(key, this.options.limits);
    return this.keys.shown(key);
  }

  async getMany(keys: readonly string[]): Promise<(Lattice | undefined)[]> {
    this.open();
    return keys.map((k) => {
      checkKey(k, this.options.limits);
      return this.keys.shown(k);
    });
  }

  async put(key: string, value: Lattice): Promise<Lattice | undefined> {
    this.open();
    checkKey(key, this.options.limits);
    checkValue(key, value, this.options.limits);
    const stamped = this.counters.stamp(key, value);
    // Without a log, the hot path: applied at once, nothing to write first.
    if (this.log === undefined) return this.applyPut(key, stamped);
    // A type mismatch is refused before anything reaches the log; a write that changes nothing
    // needs no record.
    const cur = this.keys.data.get(key);
    const next = cur === undefined ? stamped : mergeLattices(cur, stamped, key);
    if (next === cur) return this.keys.shown(key);
    return this.commit(
      () => ({ op: "put", key, value: encodeLattice(stamped) }),
      () => this.applyPut(key, stamped),
    );
  }

  /**
   * Merges into what the key holds when the write takes effect: other writes may have taken
   * effect while this one was being logged, and none of them is lost.
   */
  private applyPut(key: string, stamped: Lattice): Lattice | undefined {
    const { changed } = this.keys.merge(key, stamped);
    if (changed) this.notify({ kind: "put", key });
    return this.keys.shown(key);
  }

  async putMany(entries: readonly (readonly [string, Lattice])[]): Promise<void> {
    const results = await Promise.allSettled(entries.map(([k, v]) => this.put(k, v)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  async putIfAbsent(key: string, value: Lattice): Promise<boolean> {
    this.open();
    checkKey(key, this.options.limits);
    checkValue(key, value, this.options.limits);
    if (this.keys.shown(key) !== undefined) return false;
    const stamped = this.counters.stampOnce(value);
    // Decided when the record takes effect, not now: another caller's record may come first.
    return this.commit<boolean>(
      () => ({ op: "put-if-absent", key, value: encodeLattice(stamped) }),
      () => {
        const stored = this.keys.putIfAbsent(key, stamped);
        if (stored) this.notify({ kind: "put", key });
        return stored;
      },
    );
  }

  /**
   * The record and its write-back as one change: one log record, so one append (and one fsync)
   * instead of one per key, and no reader between them. See `Store.putIfAbsentThenMerge`.
   */
  async putIfAbsentThenMerge(
    key: string,
    value: Lattice,
    writes: readonly ThenWrite[],
  ): Promise<"stored" | "partial" | "present"> {
    this.open();
    checkKey(key, this.options.limits);
    checkValue(key, value, this.options.limits);
    for (const w of writes) {
      checkKey(w[0], this.options.limits);
      if (w[1] === null) {
        if (!isTimestamp(w[2])) throw InvalidArgumentError.field("writes", "a delete needs a time");
        continue;
      }
      checkValue(w[0], w[1], this.options.limits);
      if (hasDelta(w[1])) {
        throw InvalidArgumentError.field(
          "writes",
          `${JSON.stringify(w[0])} holds an unstamped delta`,
        );
      }
    }
    if (this.keys.shown(key) !== undefined) return "present";
    const stamped = this.counters.stampOnce(value);
    const changed = (kind: "put" | "delete", k: string): void => this.notify({ kind, key: k });
    return this.commit(
      () => ({
        op: "put-if-absent-then",
        key,
        value: encodeLattice(stamped),
        then: writes.map((w): LoggedThen =>
          w[1] === null ? [w[0], null, w[2]] : [w[0], encodeLattice(w[1])],
        ),
      }),
      () => this.keys.putIfAbsentThen(key, stamped, writes, changed),
    );
  }

  async delete(key: string): Promise<void> {
    this.open();
    checkKey(key, this.options.limits);
    if (this.keys.shown(key) === undefined) return;
    await this.commit(
      () => ({ op: "delete", key }),
      () => {
        if (this.keys.delete(key)) this.notify({ kind: "delete", key });
      },
    );
  }

  async expire(key: string, ttlMs: number): Promise<void> {
    this.open();
    checkKey(key, this.options.limits);
    checkTtl(ttlMs);
    if (this.keys.shown(key) === undefined) return;
    const deadline = Date.now() + ttlMs;
    await this.commit(
      () => ({ op: "expire", key, deadline }),
      () => {
        if (this.keys.expire(key, deadline))
          this.sweepEvery(Math.min(1000, Math.max(10, ttlMs / 4)));
      },
    );
  }

  /**
   * When the key expires, in wall-clock milliseconds since the epoch (as `Date.now()`), or
   * `undefined` when it does not. With a log, the same deadline holds after a reopen.
   *
   * @example
   * ```ts
   * await store.expire("future/1", 60_000);
   * store.expiresAt("future/1"); // Date.now() + 60000, give or take the call
   * ```
   */
  expiresAt(key: string): number | undefined {
    this.open();
    return this.keys.expiries.get(key)?.deadline;
  }

  /**
   * Makes a change: applies it at once without a log; with one, appends its record and applies
   * it once the record is durable, in log order (see `AppendLog.append`).
   */
  private commit<T>(rec: () => LogRecord, apply: () => T): Promise<T> {
    if (this.log === undefined) {
      try {
        return Promise.resolve(apply());
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    return this.log.append(rec(), () => {
      const r = apply();
      this.maybeCompact();
      return r;
    });
  }

  private sweepEvery(ms: number): void {
    this.sweeper ??= setInterval(() => this.sweep(), ms);
    this.sweeper.unref();
  }

  /**
   * Removes what has expired. Expiries are kept in the order they were set, which is their
   * order when every caller uses one retention; the whole list is checked only when it is short.
   */
  private sweep(): void {
    const now = performance.now();
    const full = this.keys.expiries.size <= 10_000;
    for (const [key, e] of this.keys.expiries) {
      if (e.at > now) {
        if (full) continue;
        break;
      }
      this.keys.expiries.delete(key);
      // Removed whole, as Redis removes an expired key: this store's counter totals for it go
      // too, so a counter written there again starts from zero.
      void this.commit(
        () => ({ op: "drop", key }),
        () => {
          this.counters.forget(key);
          if (this.keys.drop(key)) this.notify({ kind: "delete", key });
        },
      ).catch(() => undefined);
    }
    if (this.keys.expiries.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /**
   * One step of a scan in key order: the cursor is the last key returned. Every step sorts the
   * matching keys, which a process-local store affords; what it returns is bounded by `count`.
   */
  scanStep(prefix: string, cursor: string, count: number): Promise<ScanStep> {
    this.open();
    if (typeof prefix !== "string") throw InvalidArgumentError.field("prefix", "must be a string");
    const n = Math.max(1, Math.min(10_000, Math.floor(count)));
    const after = cursor === "" ? undefined : cursor;
    const keys = [...this.keys.data.keys()]
      .filter(
        (k) =>
          k.startsWith(prefix) &&
          (after === undefined || k > after) &&
          this.keys.shown(k) !== undefined,
      )
      .sort();
    const page = keys.slice(0, n);
    const last = page[page.length - 1];
    return Promise.resolve({
      keys: page,
      next: keys.length > n && last !== undefined ? last : "",
    });
  }

  scan(prefix: string): AsyncIterable<string> {
    this.open();
    if (typeof prefix !== "string") throw InvalidArgumentError.field("prefix", "must be a string");
    // A snapshot of the keys: writes during iteration neither break it nor show up in it.
    const keys = [...this.keys.data.keys()].filter(
      (k) => k.startsWith(prefix) && this.keys.shown(k) !== undefined,
    );
    let i = 0;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          Promise.resolve(
            i < keys.length
              ? { value: keys[i++] as string, done: false as const }
              : { value: undefined, done: true as const },
          ),
      }),
    };
  }

  subscribe(prefix: string, listener: ChangeListener): Promise<Subscription> {
    this.open();
    const entry = { prefix, fn: listener };
    this.listeners.add(entry);
    return Promise.resolve({
      close: () => {
        this.listeners.delete(entry);
        return Promise.resolve();
      },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.log?.close();
  }

  private open(): void {
    if (this.closed) throw new ClosedError("the memory store is closed");
  }

  private notify(event: ChangeEvent): void {
    if (this.listeners.size === 0) return;
    for (const { prefix, fn } of this.listeners) {
      if (event.kind !== "reset" && !event.key.startsWith(prefix)) continue;
      queueMicrotask(() => fn(event));
    }
  }

  private maybeCompact(): void {
    const log = this.log;
    if (log === undefined || this.compacting) return;
    if (log.size < this.options.compactAtBytes || log.size < 2 * this.baselineBytes) return;
    this.compacting = true;
    void log
      .rewrite(() => this.snapshot())
      .catch(() => undefined)
      .finally(() => {
        this.compacting = false;
      });
  }

  private *snapshot(): Iterable<LogRecord> {
    let bytes = 0;
    for (const rec of this.keys.records()) {
      if (rec.op === "put") bytes += rec.value.length;
      yield rec;
    }
    this.baselineBytes = bytes;
  }
}

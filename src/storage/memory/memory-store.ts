import { ClosedError, InvalidArgumentError } from "../../errors/index.js";
import { decodeLattice, encodeLattice, mergeLattices } from "../../lattice/index.js";
import type { Lattice } from "../../lattice/index.js";
import { checkKey, checkTtl, checkValue, resolveStoreLimits } from "../store.js";
import type {
  ChangeEvent,
  ChangeListener,
  ResolvedStoreLimits,
  Store,
  StoreLimits,
  Subscription,
} from "../store.js";
import { CounterStamps } from "../counters.js";
import { AppendLog } from "./append-log.js";
import type { FsyncPolicy, LogRecord, RecoveryReport } from "./append-log.js";

/** Options of {@link MemoryStore.open}. */
export interface MemoryStoreOptions {
  /**
   * Path of an append-only log. When set, every acknowledged write is in the log before its
   * promise resolves, and opening the store again replays it. @default undefined (no durability)
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
  private readonly data = new Map<string, Lattice>();
  private readonly counters = new CounterStamps();
  /** Keys to delete, with when (performance.now()); swept by one unref'd timer. */
  private readonly expiries = new Map<string, number>();
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
  ) {
    this.recovery = recovery;
  }

  static async open(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const o = resolve(options);
    if (o.logPath === undefined) {
      return new MemoryStore(o, undefined, { records: 0, truncatedBytes: 0 });
    }
    const replayed = new Map<string, Lattice>();
    const { log, report } = await AppendLog.open(o.logPath, o.fsync, o.fsyncIntervalMs, (rec) => {
      if (rec.op === "delete") {
        replayed.delete(rec.key);
        return;
      }
      const incoming = decodeLattice(rec.value);
      const cur = replayed.get(rec.key);
      // A record that no longer merges (it was rejected when written) is skipped, as it was then.
      try {
        replayed.set(rec.key, cur === undefined ? incoming : mergeLattices(cur, incoming));
      } catch {
        /* keep cur */
      }
    });
    const store = new MemoryStore(o, log, report);
    store.baselineBytes = log.size;
    for (const [k, v] of replayed) store.data.set(k, v);
    return store;
  }

  async get(key: string): Promise<Lattice | undefined> {
    this.open();
    checkKey(key, this.options.limits);
    return this.data.get(key);
  }

  async getMany(keys: readonly string[]): Promise<(Lattice | undefined)[]> {
    this.open();
    return keys.map((k) => {
      checkKey(k, this.options.limits);
      return this.data.get(k);
    });
  }

  async put(key: string, value: Lattice): Promise<Lattice | undefined> {
    this.open();
    checkKey(key, this.options.limits);
    checkValue(key, value, this.options.limits);
    return this.merge(key, this.counters.stamp(key, value));
  }

  /**
   * Merges into the map. With a log, the record is appended first and the merge becomes visible
   * only once it is in the log: a write the log refused (full disk, fail-stop) is never read.
   */
  private async merge(key: string, value: Lattice): Promise<Lattice> {
    let cur = this.data.get(key);
    // A type mismatch is refused before anything reaches the log.
    let next = cur === undefined ? value : mergeLattices(cur, value, key);
    if (next === cur) return cur;
    if (this.log !== undefined) {
      await this.log.append({ op: "put", key, value: encodeLattice(value) });
      this.maybeCompact();
      // Other writes may have landed while the record was being written.
      cur = this.data.get(key);
      next = cur === undefined ? value : mergeLattices(cur, value, key);
      if (next === cur) return cur;
    }
    this.data.set(key, next);
    this.notify({ kind: "put", key });
    return next;
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
    if (this.data.has(key)) return false;
    await this.merge(key, this.counters.stampOnce(value));
    return true;
  }

  async delete(key: string): Promise<void> {
    this.open();
    checkKey(key, this.options.limits);
    this.counters.forget(key);
    this.expiries.delete(key);
    if (!this.data.delete(key)) return;
    this.notify({ kind: "delete", key });
    if (this.log !== undefined) await this.log.append({ op: "delete", key });
  }

  async expire(key: string, ttlMs: number): Promise<void> {
    this.open();
    checkKey(key, this.options.limits);
    checkTtl(ttlMs);
    if (!this.data.has(key)) return;
    this.expiries.delete(key);
    this.expiries.set(key, performance.now() + ttlMs);
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1000, Math.max(10, ttlMs / 4)));
    this.sweeper.unref();
  }

  /**
   * Deletes what has expired. Expiries are kept in the order they were set, which is their
   * order when every caller uses one retention; the whole list is checked only when it is short.
   */
  private sweep(): void {
    const now = performance.now();
    const full = this.expiries.size <= 10_000;
    for (const [key, at] of this.expiries) {
      if (at > now) {
        if (full) continue;
        break;
      }
      this.expiries.delete(key);
      void this.delete(key).catch(() => undefined);
    }
    if (this.expiries.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  scan(prefix: string): AsyncIterable<string> {
    this.open();
    if (typeof prefix !== "string") throw InvalidArgumentError.field("prefix", "must be a string");
    // A snapshot of the keys: writes during iteration neither break it nor show up in it.
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix));
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
    this.expiries.clear();
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
    for (const [key, value] of this.data) {
      const encoded = encodeLattice(value);
      bytes += encoded.length;
      yield { op: "put", key, value: encoded };
    }
    this.baselineBytes = bytes;
  }
}

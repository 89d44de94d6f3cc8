import { InvalidArgumentError, InvalidKeyError, ValueTooLargeError } from "../errors/index.js";
import { encodedSize } from "../lattice/index.js";
import type { Lattice, Timestamp } from "../lattice/index.js";

/**
 * A change to stored data, delivered to subscribers.
 *
 * - `put`: the key's value changed (a merge that changed nothing is not reported).
 * - `delete`: the key was deleted.
 * - `reset`: notifications may have been lost (the backend's change stream reconnected); a
 *   subscriber that caches values must treat every cached key under its prefix as stale.
 */
export type ChangeEvent =
  | { readonly kind: "put"; readonly key: string }
  | { readonly kind: "delete"; readonly key: string }
  | { readonly kind: "reset" };

/** Receives change events. Called asynchronously; must not throw. */
export type ChangeListener = (event: ChangeEvent) => void;

/** Told of a storage connection lost (`lost`) or regained (`restored`); must not throw. */
export type ConnectionListener = (state: "lost" | "restored", detail: string) => void;

/** A live subscription; `close` stops delivery. */
export interface Subscription {
  close(): Promise<void>;
}

/** A write of {@link Store.putIfAbsentThenMerge}: a merge, or a delete (see there). */
export type ThenWrite =
  | readonly [key: string, value: Lattice]
  | readonly [key: string, value: null, unlessNewer: Timestamp];

/** What one {@link Store.scanStep} found, and where the next step starts. */
export interface ScanStep {
  keys: string[];
  next: string;
}

/**
 * The storage contract every backend meets: a lattice key-value store in which every write is a
 * merge. Concurrent writers never lose updates, whatever order their writes arrive in, because
 * merges are associative, commutative and idempotent and each backend applies one key's merge
 * atomically.
 *
 * A rejected promise with `STORAGE_UNAVAILABLE` means the outcome is unknown: the write may or
 * may not have been applied. Retrying is always safe, since merging the same lattice twice is the
 * same as merging it once.
 *
 * **Absent keys.** A key reads as absent (`get` gives `undefined`) when it holds nothing, or when
 * it holds a deleted counter: a counter keeps per-writer floors when deleted (see `delete`), which
 * read as absent until a writer adds to it again. Every write treats such a key as absent.
 *
 * **Durability and visibility.** A change is seen by readers only once it is applied for good: on
 * Redis when the server ran it; on the memory store with a log, once its record is in the log
 * (under the log's fsync policy). Changes to one key take effect in one order that every reader
 * sees, and a memory store reopened from its log shows what it showed before.
 *
 * @example
 * ```ts
 * const store = await MemoryStore.open();
 * const clock = new HybridClock({ node: "n1" });
 * await store.put("greeting", LwwLattice.of("hello", clock.now()));
 * const v = await store.get("greeting"); // LwwLattice, v.value() === "hello"
 * await store.close();
 * ```
 */
export interface Store {
  /** Which backend this is: `memory`, `redis` or `redis-cluster`. */
  readonly backend: string;
  /** The stored lattice, or `undefined` when the key holds nothing. */
  get(key: string): Promise<Lattice | undefined>;
  /** Several keys at once, in the order asked. */
  getMany(keys: readonly string[]): Promise<(Lattice | undefined)[]>;
  /**
   * Merges `value` into the key. Throws `LATTICE_TYPE_MISMATCH` (and changes nothing) when the
   * key holds another kind of lattice.
   *
   * Resolves with what the key holds right after this merge when the backend knows it without
   * another round trip (the memory store always; Redis when the write replaced a
   * last-writer-wins value), else `undefined`. A cache must hold what storage holds, so it fills
   * from this answer and never from the value it sent: a write that lost a last-writer-wins
   * merge resolves `undefined` (on Redis) or with the newer value that won.
   *
   * A counter delta (`CounterLattice.delta`) is stamped with this store's running totals first
   * (see `CounterStamps`).
   */
  put(key: string, value: Lattice): Promise<Lattice | undefined>;
  /** Merges several keys; each key's merge is atomic, the batch as a whole is not. */
  putMany(entries: readonly (readonly [string, Lattice])[]): Promise<void>;
  /**
   * Stores `value` only if the key reads as absent. True when it was stored. Atomic on every
   * backend: of any number of concurrent callers, from any number of processes, exactly one
   * stores into an absent key, and a caller that gets `false` found the key present. It is the
   * commit point of fences, cron tick claims, the monitor lease and transaction commit records.
   *
   * On a deleted counter (see `delete`), the value is merged into the floors the delete left: a
   * counter counts only what it adds above them; another kind replaces them.
   */
  putIfAbsent(key: string, value: Lattice): Promise<boolean>;
  /**
   * A {@link putIfAbsent} of `key` and, only when it stored, each of `writes` applied to its key,
   * all in one atomic step: a transaction's commit record and its write-back in one round trip. A
   * write is a merge (as {@link put}), or a delete (as {@link delete}) that leaves a
   * last-writer-wins value written after `unlessNewer` in place, as such a value wins over a put.
   * Backends that cannot do this in one step for these keys (a Redis Cluster, whose keys live on
   * different servers) leave it out or resolve `undefined` having written nothing; the caller then
   * writes the key and the rest one by one.
   *
   * Resolves `present` when the key read as present (nothing written), `stored` when it stored and
   * every write applied, and `partial` when it stored but some write was refused (a key of another
   * kind): the caller writes them again one by one to learn which, which is safe because merging
   * twice is merging once. So merges must be exact lattices: a counter delta not yet stamped with
   * running totals (`CounterLattice.delta`) is refused with `INVALID_ARGUMENT`.
   */
  putIfAbsentThenMerge?(
    key: string,
    value: Lattice,
    writes: readonly ThenWrite[],
  ): Promise<"stored" | "partial" | "present" | undefined>;
  /**
   * Deletes the key: it reads as absent afterwards. A merge that races with the delete may
   * re-create the key, as if it came after.
   *
   * A counter is deleted by a merge rather than removed: each writer's floor is raised to the
   * totals it has at that moment (`CounterLattice.floored`), and the key keeps those floors. A
   * writer that never saw the delete, in this process or another, goes on sending its running
   * totals; only what it adds above its floor counts, so a deleted counter stays deleted and its
   * next increments count from zero. A map keeps its counters the same way, at their paths, and
   * loses every other field (`deletedState`). The floors stay (about 32 bytes per writer that
   * ever wrote the counter) until another kind is written to the key or the key expires.
   */
  delete(key: string): Promise<void>;
  /**
   * Deletes the key once `ttlMs` milliseconds have passed, for records that must not outlive
   * their use (futures' results). Meant for keys written once: a later write may or may not
   * cancel the expiry, depending on the backend. Expiry removes the key whole, floors included,
   * so a counter that several processes write is better deleted than expired. The memory store
   * logs expiries with their wall-clock deadline, so they survive a restart.
   */
  expire(key: string, ttlMs: number): Promise<void>;
  /**
   * Every key that starts with `prefix` (no order promised). It may also list a key that reads as
   * absent (Redis keeps a deleted counter's floors under its key, and a key may be deleted while
   * the scan runs): read a key to know what it holds.
   */
  scan(prefix: string): AsyncIterable<string>;
  /**
   * One bounded step of a scan, for listings a person pages through: keys that start with
   * `prefix`, from `cursor` (`""` to start), walking about `count` keys of the keyspace (so a
   * step costs about the same whether few or many keys match). `next` is `""` once the scan is
   * done. Like {@link scan}, no order, and a key may be listed twice or read as absent.
   */
  scanStep?(prefix: string, cursor: string, count: number): Promise<ScanStep>;
  /** Delivers changes to keys that start with `prefix` until the subscription is closed. */
  subscribe(prefix: string, listener: ChangeListener): Promise<Subscription>;
  /**
   * Resolves once every change event for a write that completed before the call has been
   * delivered to the listeners (Redis: a round trip on each subscriber connection, whose
   * replies come after the events published before them). Without it, events are delivered
   * before the write's own promise resolves.
   */
  sync?(): Promise<void>;
  /**
   * Tells `listener` when the backend loses its connection to storage and when it has it again
   * (Redis: the command connection closed, and ready again). Operations meanwhile wait or fail
   * with `STORAGE_UNAVAILABLE` as usual; this is for logs. The memory backend has no connection.
   */
  onConnection?(listener: ConnectionListener): void;
  /** Releases connections and files; later calls throw `CLOSED`. */
  close(): Promise<void>;
}

/** Size limits every backend enforces. */
export interface StoreLimits {
  /** Longest key, in UTF-8 bytes. @default 1024 */
  maxKeyBytes?: number;
  /** Largest value, in bytes of its encoding. @default 67108864 (64 MiB) */
  maxValueBytes?: number;
}

/** {@link StoreLimits} with every field present. */
export type ResolvedStoreLimits = Readonly<Required<StoreLimits>>;

const DEFAULT_LIMITS: ResolvedStoreLimits = Object.freeze({
  maxKeyBytes: 1024,
  maxValueBytes: 64 * 1024 * 1024,
});

function positiveInt(field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw InvalidArgumentError.field(field, `must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/** Fills in defaults and validates. */
export function resolveStoreLimits(limits: StoreLimits = {}): ResolvedStoreLimits {
  return Object.freeze({
    maxKeyBytes: positiveInt("maxKeyBytes", limits.maxKeyBytes, DEFAULT_LIMITS.maxKeyBytes),
    maxValueBytes: positiveInt("maxValueBytes", limits.maxValueBytes, DEFAULT_LIMITS.maxValueBytes),
  });
}

/** Throws `INVALID_KEY` for a key that is not a non-empty string within the size limit. */
export function checkKey(key: unknown, limits: ResolvedStoreLimits): asserts key is string {
  if (typeof key !== "string") {
    throw new InvalidKeyError(`key must be a string, got ${typeof key}`);
  }
  if (key.length === 0) throw new InvalidKeyError("key must not be empty");
  // Cheap bound first: a UTF-16 string never takes more than 3 bytes per code unit in UTF-8.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > limits.maxKeyBytes) {
      throw new InvalidKeyError(`key is ${bytes} bytes; the limit is ${limits.maxKeyBytes}`, {
        details: { bytes, limit: limits.maxKeyBytes },
      });
    }
  }
}

/** Throws `INVALID_ARGUMENT` unless `ttlMs` is a positive, finite number of milliseconds. */
export function checkTtl(ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw InvalidArgumentError.field("ttlMs", `must be a positive number, got ${String(ttlMs)}`);
  }
}

/** Throws `VALUE_TOO_LARGE` for a lattice whose encoding exceeds the limit. */
export function checkValue(key: string, value: Lattice, limits: ResolvedStoreLimits): void {
  if (typeof value !== "object" || value === null || typeof value.merge !== "function") {
    throw new InvalidArgumentError(`value for key ${JSON.stringify(key)} is not a lattice`);
  }
  const size = encodedSize(value);
  if (size > limits.maxValueBytes) throw ValueTooLargeError.of(key, size, limits.maxValueBytes);
}

import type { Lattice } from "../lattice/index.js";
import { encodedSize } from "../lattice/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import type { ChangeEvent, Store, Subscription } from "../storage/index.js";
import { SizeIndex } from "./size-index.js";

/** Options of {@link NodeCache}. */
export interface NodeCacheOptions {
  /** Bytes of values kept; least recently used go first. @default 268435456 (256 MiB) */
  maxBytes?: number;
  /** Only keys under this prefix are cached and watched. @default "" */
  prefix?: string;
  /**
   * Test only: apply the store's change events this many milliseconds late, so this cache serves
   * stale values for that long after another process writes (the lagging cache that makes the
   * anomalies of weak consistency levels observable). Its own writes are not delayed. @default 0
   */
  lagInvalidationsMs?: number;
}

interface Entry {
  value: Lattice;
  bytes: number;
}

/**
 * The node's cache in front of storage, shared by its executors. Reads of cached keys cost no
 * network. The store's change stream drops entries that changed elsewhere; a fetch that races
 * with such a change is not cached, so a stale value never outlives its invalidation.
 *
 * The cache holds what storage holds, or nothing. A write goes to storage first, and the cache
 * then keeps only what storage says the key holds after it (never the value sent: that may have
 * lost a last-writer-wins merge, or be a counter's delta), and only if no change to the key was
 * announced while the write was in flight. Otherwise the key is dropped and the next read
 * fetches it.
 *
 * @example
 * ```ts
 * const cache = await NodeCache.open(store, { maxBytes: 64 << 20, prefix: "u/" });
 * await cache.put("u/k", LwwLattice.of(1, clock.now()));
 * (await cache.get("u/k"))?.kind; // "lww", served locally
 * ```
 */
export class NodeCache {
  /** Insertion order is recency order: a hit moves the key to the end. */
  private readonly entries = new Map<string, Entry>();
  /** The same keys by size, for {@link top}. */
  private readonly bySize = new SizeIndex();
  /** Bumped by every invalidation, so fetches started before it know not to fill. */
  private readonly generation = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Lattice | undefined>>();
  private bytes = 0;
  private sub: Subscription | undefined;
  private readonly maxBytes: number;
  private readonly prefix: string;
  private epoch = 0;
  private readonly lagMs: number;
  private readonly lagging = new Set<NodeJS.Timeout>();
  hits = 0;
  misses = 0;

  private constructor(
    private readonly store: Store,
    options: NodeCacheOptions,
  ) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.prefix = options.prefix ?? "";
    const lag = options.lagInvalidationsMs ?? 0;
    if (!Number.isFinite(lag) || lag < 0) {
      throw InvalidArgumentError.field("lagInvalidationsMs", `must be >= 0, got ${String(lag)}`);
    }
    this.lagMs = lag;
  }

  static async open(store: Store, options: NodeCacheOptions = {}): Promise<NodeCache> {
    const c = new NodeCache(store, options);
    c.sub = await store.subscribe(options.prefix ?? "", (e) => c.onChange(e));
    return c;
  }

  private onChange(e: ChangeEvent): void {
    if (this.lagMs === 0) return this.apply(e);
    const t = setTimeout(() => {
      this.lagging.delete(t);
      this.apply(e);
    }, this.lagMs);
    t.unref();
    this.lagging.add(t);
  }

  private apply(e: ChangeEvent): void {
    if (e.kind === "reset") this.clear();
    else this.invalidate(e.key);
  }

  /**
   * The key's value as storage holds it now, bypassing a cached copy (which may be older), and
   * cached when no change raced with the fetch: for readers that know the cached copy is too old.
   */
  async fresh(key: string): Promise<Lattice | undefined> {
    this.invalidate(key);
    const gen = this.gen(key);
    const epoch = this.epoch;
    this.misses++;
    const v = await this.store.get(key);
    if (v !== undefined && gen === this.gen(key) && epoch === this.epoch) this.fill(key, v);
    return v;
  }

  /** The key's value, from the cache or (once, however many ask at the same time) from storage. */
  get(key: string): Promise<Lattice | undefined> {
    const e = this.entries.get(key);
    if (e !== undefined) {
      this.hits++;
      this.entries.delete(key);
      this.entries.set(key, e);
      return Promise.resolve(e.value);
    }
    this.misses++;
    let p = this.inflight.get(key);
    if (p === undefined) {
      const gen = this.gen(key);
      const epoch = this.epoch;
      p = this.store.get(key).then(
        (v) => {
          this.inflight.delete(key);
          if (v !== undefined && gen === this.gen(key) && epoch === this.epoch) this.fill(key, v);
          return v;
        },
        (err: unknown) => {
          this.inflight.delete(key);
          throw err;
        },
      );
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Merges into storage; caches what storage then holds, when it is known and undisputed. */
  async put(key: string, value: Lattice): Promise<void> {
    const gen = this.gen(key);
    const epoch = this.epoch;
    let stored: Lattice | undefined;
    try {
      stored = await this.store.put(key, value);
    } finally {
      // Whatever we held is older than this write (or the write's outcome is unknown).
      const quiet = gen === this.gen(key) && epoch === this.epoch;
      this.invalidate(key);
      if (quiet && stored !== undefined) this.fill(key, stored);
    }
  }

  async delete(key: string): Promise<void> {
    await this.store.delete(key);
    this.invalidate(key);
  }

  /**
   * Keys cached with their sizes, largest first, at most `limit`: what heartbeats advertise.
   * Keys are named without the cache's prefix (`k`, not `u/k`), as callers' references name them,
   * so a scheduler can match the two without knowing the storage layout.
   */
  top(limit = 256): [string, number][] {
    const cut = this.prefix.length;
    return this.bySize.largest(limit).map(([k, bytes]) => [k.slice(cut), bytes]);
  }

  get size(): { keys: number; bytes: number } {
    return { keys: this.entries.size, bytes: this.bytes };
  }

  private gen(key: string): number {
    return this.generation.get(key) ?? 0;
  }

  private fill(key: string, value: Lattice): void {
    const size = value.kind === "lww" ? value.bytes.length + 32 : encodedSize(value);
    if (size > this.maxBytes) return;
    this.drop(key);
    this.entries.set(key, { value, bytes: size });
    this.bySize.add(key, size);
    this.bytes += size;
    for (const [k] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(k);
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.bySize.remove(key, e.bytes);
    this.bytes -= e.bytes;
  }

  private invalidate(key: string): void {
    this.drop(key);
    this.generation.set(key, this.gen(key) + 1);
    if (this.generation.size > 100_000) {
      // Bounded memory: forgetting generations is safe once the epoch moves on.
      this.generation.clear();
      this.epoch++;
    }
  }

  private clear(): void {
    this.entries.clear();
    this.bySize.clear();
    this.bytes = 0;
    this.generation.clear();
    this.epoch++;
  }

  async close(): Promise<void> {
    for (const t of this.lagging) clearTimeout(t);
    this.lagging.clear();
    await this.sub?.close();
    this.clear();
  }
}

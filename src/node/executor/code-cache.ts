/**
 * The compiled function versions a worker keeps, least recently used first, under one limit.
 *
 * Both sides of the thread boundary hold one: the worker holds the compiled code, and the pool's
 * handle on that worker (slot.ts) holds a mirror of its keys, so that it sends a function's source
 * only to a worker that does not have it. The mirror is right only while both caches make the
 * same moves in the same order, so both are this class, fed the same keys: the pool as it posts
 * an invocation, the worker as it receives it (not when it runs it).
 */

/**
 * How many function versions a worker keeps compiled. The pool mirrors the worker's cache (same
 * operations in the same order) so it knows when it must send the source again.
 */
export const CODE_CACHE_LIMIT = 256;

/**
 * A least-recently-used map of function versions (keyed by `codeKey`).
 *
 * @example
 * ```ts
 * const cache = new CodeCache<Compiled>();
 * cache.admit(key, compiled); // the code came with the invocation: stored
 * cache.admit(key); // a later invocation: the entry, now most recently used
 * ```
 */
export class CodeCache<V> {
  private readonly entries = new Map<string, V>();
  /** The key admitted last: admitting it again moves nothing (the common run of one function). */
  private lastKey = "";

  constructor(private readonly limit = CODE_CACHE_LIMIT) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Records an invocation of `key`. With `fresh` (its code travelled with it) that becomes the
   * entry, and the least recently used entry past the limit goes; without, an entry it has
   * becomes the most recently used. Returns the entry, if any.
   */
  admit(key: string, fresh?: V): V | undefined {
    let entry = this.entries.get(key);
    if (fresh !== undefined) {
      entry = fresh;
      this.entries.set(key, entry);
      if (this.entries.size > this.limit) {
        this.entries.delete(this.entries.keys().next().value as string);
      }
    } else if (entry !== undefined && key !== this.lastKey) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    this.lastKey = key;
    return entry;
  }
}

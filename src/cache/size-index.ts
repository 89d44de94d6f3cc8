/**
 * Keys by size, kept as the cache changes, so its largest keys are read without a sort.
 *
 * Heartbeats advertise a node's largest cached keys twice a second; sorting a cache of a million
 * small keys for that took 1.3-2.8 s of the main thread each time. Here every size has its set
 * of keys, and the distinct sizes are kept in order: adding or removing a key is a set operation
 * (plus a binary search and a splice when its size is new or gone), and the `limit` largest keys
 * cost at most `limit` steps and one per size visited. The distinct sizes are few: sizes that all
 * differ add up to at least d²/2 bytes, so a 256 MiB cache holds at most about 23,000 of them.
 */
export class SizeIndex {
  private readonly bySize = new Map<number, Set<string>>();
  /** Distinct sizes, ascending. */
  private readonly sizes: number[] = [];

  add(key: string, size: number): void {
    let keys = this.bySize.get(size);
    if (keys === undefined) {
      keys = new Set();
      this.bySize.set(size, keys);
      this.sizes.splice(this.position(size), 0, size);
    }
    keys.add(key);
  }

  remove(key: string, size: number): void {
    const keys = this.bySize.get(size);
    if (keys === undefined || !keys.delete(key) || keys.size > 0) return;
    this.bySize.delete(size);
    this.sizes.splice(this.position(size), 1);
  }

  clear(): void {
    this.bySize.clear();
    this.sizes.length = 0;
  }

  /** At most `limit` keys with their sizes, largest first. */
  largest(limit: number): [string, number][] {
    const out: [string, number][] = [];
    for (let s = this.sizes.length - 1; s >= 0 && out.length < limit; s--) {
      const size = this.sizes[s] as number;
      for (const key of this.bySize.get(size) ?? []) {
        if (out.length >= limit) break;
        out.push([key, size]);
      }
    }
    return out;
  }

  /** Where `size` is, or goes, in `sizes`. */
  private position(size: number): number {
    let lo = 0;
    let hi = this.sizes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sizes[mid] as number) < size) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The registry's local copy of definitions, bounded. Names come from callers, so both what was
 * found and what was not are capped: a caller trying 20,000 names that do not exist used to
 * leave 20,000 entries behind for good.
 */

/** Bounds of a {@link Lookups}. */
export interface LookupLimits {
  /** Definitions kept (found, or being fetched); the least recently used go first. @default 10000 */
  maxFound?: number;
  /** Names remembered as missing; the oldest go first. @default 1000 */
  maxMissing?: number;
  /**
   * How long a name is remembered as missing. The store's change stream forgets it as soon as the
   * name is registered; this bounds the wait should that notice be lost. @default 5000
   */
  missingTtlMs?: number;
}

/**
 * Definitions by name, each fetched once however many ask at the same time, with the names that
 * had none remembered briefly, so a caller repeating a bad name costs no storage round trip.
 *
 * @example
 * ```ts
 * const fns = new Lookups((name) => fetchDefinition(name), { maxMissing: 100 });
 * await fns.get("inc"); // fetched, then served locally until `forget("inc")`
 * ```
 */
export class Lookups<T> {
  /** Insertion order is recency order. */
  private readonly found = new Map<string, Promise<T | undefined>>();
  /** Name to when it was found missing (`performance.now()`); insertion order is age order. */
  private readonly missing = new Map<string, number>();
  private readonly maxFound: number;
  private readonly maxMissing: number;
  private readonly missingTtlMs: number;

  constructor(
    private readonly fetch: (name: string) => Promise<T | undefined>,
    limits: LookupLimits = {},
  ) {
    this.maxFound = limits.maxFound ?? 10_000;
    this.maxMissing = limits.maxMissing ?? 1_000;
    this.missingTtlMs = limits.missingTtlMs ?? 5_000;
  }

  /** What is held: definitions (and fetches in flight), and names remembered as missing. */
  get size(): { found: number; missing: number } {
    return { found: this.found.size, missing: this.missing.size };
  }

  get(name: string): Promise<T | undefined> {
    const at = this.missing.get(name);
    if (at !== undefined) {
      if (performance.now() - at < this.missingTtlMs) return Promise.resolve(undefined);
      this.missing.delete(name);
    }
    let p = this.found.get(name);
    if (p !== undefined) {
      this.found.delete(name);
      this.found.set(name, p);
      return p;
    }
    p = this.fetch(name);
    this.hold(name, p);
    const fetched = p;
    fetched.then(
      (v) => {
        if (v !== undefined || this.found.get(name) !== fetched) return;
        this.found.delete(name);
        this.missing.set(name, performance.now());
        for (const [old] of this.missing) {
          if (this.missing.size <= this.maxMissing) break;
          this.missing.delete(old);
        }
      },
      // A failed read is not kept: the next lookup tries again.
      () => this.found.get(name) === fetched && this.found.delete(name),
    );
    return p;
  }

  /** Holds a definition this process just wrote. */
  set(name: string, value: T): void {
    this.missing.delete(name);
    this.found.delete(name);
    this.hold(name, Promise.resolve(value));
  }

  /** The stored definition changed: the next lookup fetches it. */
  forget(name: string): void {
    this.found.delete(name);
    this.missing.delete(name);
  }

  clear(): void {
    this.found.clear();
    this.missing.clear();
  }

  private hold(name: string, p: Promise<T | undefined>): void {
    this.found.set(name, p);
    for (const [old] of this.found) {
      if (this.found.size <= this.maxFound) break;
      this.found.delete(old);
    }
  }
}

/**
 * The shared keys of the transaction fault workload: one counter and one set that every merging
 * lane writes (runs of forked DAGs, the writers' runs, client transactions, plain merges), and
 * the check of their final value: merges compose, so the counter holds every acknowledged
 * increment, once, whatever the level and the faults. The only slack is a plain merge whose
 * outcome is unknown (it failed, and was not repeated): it may or may not be counted.
 */

/** What the shared counter and set hold at the end, as one reader saw them. */
export interface SharedFinal {
  counter: number;
  set: readonly string[];
}

/** The verdict on one reading of the shared keys. */
export interface SharedReport {
  /** Increments acknowledged, and those of unknown outcome. */
  acked: number;
  unknown: number;
  counter: number;
  /** Increments beyond every acknowledged and unknown one: effects applied twice. */
  duplicated: number;
  /** Acknowledged increments missing from the counter. */
  lost: number;
  /** Acknowledged tags missing from the set, and tags in it that no request wrote. */
  missingTags: number;
  phantomTags: number;
}

/**
 * Collects what the merging lanes did.
 *
 * @example
 * ```ts
 * const t = new SharedTally();
 * t.issued("a"); t.acked("a");
 * t.check({ counter: 1, set: ["a"] }); // { duplicated: 0, lost: 0, ... }
 * ```
 */
export class SharedTally {
  private readonly issuedTags = new Set<string>();
  private readonly ackedTags = new Set<string>();
  private readonly unknownTags = new Set<string>();

  issued(tag: string): void {
    this.issuedTags.add(tag);
  }

  acked(tag: string): void {
    this.ackedTags.add(tag);
  }

  /** A plain merge that failed: it may or may not have been applied, and is not repeated. */
  unknown(tag: string): void {
    this.unknownTags.add(tag);
  }

  get ackedCount(): number {
    return this.ackedTags.size;
  }

  check(final: SharedFinal): SharedReport {
    const acked = this.ackedTags.size;
    const unknown = this.unknownTags.size;
    const inSet = new Set(final.set);
    let missingTags = 0;
    for (const t of this.ackedTags) if (!inSet.has(t)) missingTags++;
    let phantomTags = 0;
    for (const t of inSet) if (!this.issuedTags.has(t)) phantomTags++;
    return {
      acked,
      unknown,
      counter: final.counter,
      duplicated: Math.max(0, final.counter - acked - unknown),
      lost: Math.max(0, acked - final.counter),
      missingTags,
      phantomTags,
    };
  }
}

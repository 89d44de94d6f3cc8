/**
 * The checker of the transaction fault test: it counts the four anomalies issue 10 names, from
 * application-level evidence only (tags the workload wrote and counters it incremented), so it
 * judges any consistency level without trusting the system's own metadata.
 *
 * The workload it judges: each write request has a unique tag (the same on every retry of it)
 * and, in one run, writes that tag to every key of one group and increments a counter of its own
 * (`n/<tag>`) by one. Readers read a whole group in one run. At the end, the final state (every
 * group and every counter) is read from storage.
 *
 * Definitions:
 * - **fractured read**: one read of a group (a reader's run, or the final state) that saw two
 *   different values across the group's keys (an absent key counts as the value "nothing").
 * - **dirty read**: a read that saw a tag whose request left no effect at the end (its counter is
 *   0 or absent in the final state), or a tag no request wrote: it saw data that was never
 *   committed. A tag whose counter is there was committed, even when its client gave up.
 * - **lost acknowledged commit**: a request whose client got a success but whose counter is 0 or
 *   absent in the final state. (Its group keys may be overwritten by later writes; its counter
 *   is written by it alone, so it must stay.)
 * - **duplicated effect**: each increment of a counter beyond the first: the request's effects
 *   were applied more than once (a re-run, or a retry of an attempt that had already applied).
 *   With every request acknowledged, the sum of the counters equals the acknowledgements
 *   exactly when there are neither duplicated effects nor lost commits.
 */

/** The value of a key as the workload reads it: a tag, or null when the key holds nothing. */
export type TagValue = string | null;

/** What storage holds at the end of a workload. */
export interface FinalState {
  /** Every group's keys, in key order. */
  groups: ReadonlyMap<string, readonly TagValue[]>;
  /** Each request tag's counter (absent or 0: the request left no effect). */
  counters: ReadonlyMap<string, number>;
}

/** The four anomaly counts; all are 0 for read-atomic transactions. */
export interface TxnAnomalies {
  fracturedReads: number;
  dirtyReads: number;
  lostCommits: number;
  duplicatedEffects: number;
}

/** A checker's verdict, with the figures behind it. */
export interface TxnCheckReport extends TxnAnomalies {
  /** Write requests issued and acknowledged. */
  writes: number;
  acked: number;
  /** Requests with an effect but no acknowledgement (their client gave up): not an anomaly. */
  committedUnacked: number;
  /** Reads of a group checked (readers' runs and the final state). */
  reads: number;
  /** The sum of all counters: equals `acked` when nothing is lost or duplicated. */
  counterTotal: number;
  /** A few examples of each anomaly found, for the test's output. */
  examples: string[];
}

/**
 * Collects what a workload did and judges it against the final state.
 *
 * @example
 * ```ts
 * const c = new TxnChecker();
 * c.issued("w1", "g0");
 * c.acked("w1");
 * c.read("g0", ["w1", "w1"]);
 * c.check({ groups: new Map([["g0", ["w1", "w1"]]]), counters: new Map([["w1", 1]]) });
 * // { fracturedReads: 0, dirtyReads: 0, lostCommits: 0, duplicatedEffects: 0, ... }
 * ```
 */
export class TxnChecker {
  private readonly issuedTags = new Map<string, string>();
  private readonly ackedTags = new Set<string>();
  private readonly reads: { group: string; values: readonly TagValue[] }[] = [];

  /** A write request was issued (before its first attempt). */
  issued(tag: string, group: string): void {
    this.issuedTags.set(tag, group);
  }

  /** A write request's client got a success (on any attempt). */
  acked(tag: string): void {
    this.ackedTags.add(tag);
  }

  /** One run read the whole of `group`. */
  read(group: string, values: readonly TagValue[]): void {
    this.reads.push({ group, values });
  }

  /** Reads recorded so far. */
  get readCount(): number {
    return this.reads.length;
  }

  /** Counts the anomalies, reading the final state as one more read of each group. */
  check(final: FinalState): TxnCheckReport {
    const examples: string[] = [];
    const note = (s: string): void => void (examples.length < 12 && examples.push(s));
    const committed = (tag: string): boolean => (final.counters.get(tag) ?? 0) > 0;
    let fracturedReads = 0;
    let dirtyReads = 0;
    const all = [
      ...this.reads.map((r) => ({ ...r, what: "read" })),
      ...[...final.groups].map(([group, values]) => ({ group, values, what: "final" })),
    ];
    for (const r of all) {
      if (new Set(r.values).size > 1) {
        fracturedReads++;
        note(`fractured ${r.what} of ${r.group}: ${r.values.join(",")}`);
      }
      const dirty = r.values.find(
        (v) => v !== null && (this.issuedTags.get(v) !== r.group || !committed(v)),
      );
      if (dirty !== undefined && dirty !== null) {
        dirtyReads++;
        note(`dirty ${r.what} of ${r.group}: ${dirty} left no effect`);
      }
    }
    let lostCommits = 0;
    for (const tag of this.ackedTags) {
      if (!committed(tag)) {
        lostCommits++;
        note(`lost: ${tag} was acknowledged but its counter is ${final.counters.get(tag) ?? 0}`);
      }
    }
    let duplicatedEffects = 0;
    let counterTotal = 0;
    let committedUnacked = 0;
    for (const [tag, n] of final.counters) {
      counterTotal += n;
      if (n > 1) {
        duplicatedEffects += n - 1;
        note(`duplicated: ${tag} applied ${n} times`);
      }
      if (n > 0 && !this.ackedTags.has(tag)) committedUnacked++;
    }
    return {
      fracturedReads,
      dirtyReads,
      lostCommits,
      duplicatedEffects,
      writes: this.issuedTags.size,
      acked: this.ackedTags.size,
      committedUnacked,
      reads: all.length,
      counterTotal,
      examples,
    };
  }
}

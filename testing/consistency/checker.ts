/**
 * The anomaly checker: given what one run read, in causal order, which of the four anomalies of
 * issue 9 it shows. Pure code over application-level versions (each value carries its own
 * sequence number and the versions of other keys it depends on), so it judges any level, any
 * store, any placement without trusting the system's own metadata.
 */

/** One read of a run, as the workload records it. */
export interface ReadRecord {
  /** The key read. */
  key: string;
  /** The application version read: 0 when the key held nothing, else what its writer numbered. */
  seq: number;
  /** What this version depends on: key → the least version of it its writer had seen. */
  deps: Record<string, number>;
}

/** The anomalies the checker counts. */
export type Anomaly =
  /** (a) a reply seen, then its parent's list read without the parent. */
  | "replyWithoutParent"
  /** (b) one run reading two versions of a key. */
  | "twoVersions"
  /** (c) a read older than a version of that key the run had causally seen before it. */
  | "olderThanSeen"
  /** (d) reads in one run that no single causal cut contains. */
  | "fractured";

export const ANOMALIES: readonly Anomaly[] = [
  "replyWithoutParent",
  "twoVersions",
  "olderThanSeen",
  "fractured",
];

/** Which anomalies each level promises to prevent (issue 9). */
export const PREVENTS: Readonly<Record<string, readonly Anomaly[]>> = {
  lww: [],
  "repeatable-read": ["twoVersions"],
  causal: ["replyWithoutParent", "olderThanSeen"],
  "transactional-causal": ANOMALIES,
};

/**
 * The anomalies of one run. `log` is in causal order: a function's reads in the order it made
 * them, after the reads of the functions upstream of it.
 *
 * @example
 * ```ts
 * checkRun([
 *   { key: "posts/b", seq: 4, deps: { "posts/a": 7 } }, // a reply to a's 7th version
 *   { key: "posts/a", seq: 6, deps: {} },               // a's list without that post
 * ]); // Set { "replyWithoutParent", "olderThanSeen", "fractured" }
 * ```
 */
export function checkRun(log: readonly ReadRecord[]): Set<Anomaly> {
  const found = new Set<Anomaly>();
  const read = new Map<string, number>();
  /** The newest version of each key the run has seen so far, by reading it or a dependent. */
  const seen = new Map<string, number>();
  /** The same, through dependencies only. */
  const viaDeps = new Map<string, number>();
  for (const r of log) {
    const before = read.get(r.key);
    if (before !== undefined && before !== r.seq) found.add("twoVersions");
    if (before === undefined) read.set(r.key, r.seq);
    if ((seen.get(r.key) ?? 0) > r.seq) found.add("olderThanSeen");
    if ((viaDeps.get(r.key) ?? 0) > r.seq) found.add("replyWithoutParent");
    raise(seen, r.key, r.seq);
    for (const [k, v] of Object.entries(r.deps)) {
      raise(seen, k, v);
      raise(viaDeps, k, v);
    }
  }
  if (found.size > 0 || fractured(log)) found.add("fractured");
  return found;
}

function raise(m: Map<string, number>, k: string, v: number): void {
  if ((m.get(k) ?? 0) < v) m.set(k, v);
}

/** Some key read at two versions, or read older than what another read (before or after) needs. */
function fractured(log: readonly ReadRecord[]): boolean {
  const least = new Map<string, number>();
  const most = new Map<string, number>();
  for (const r of log) {
    least.set(r.key, Math.min(least.get(r.key) ?? Infinity, r.seq));
    most.set(r.key, Math.max(most.get(r.key) ?? -Infinity, r.seq));
  }
  for (const [k, lo] of least) if (lo !== most.get(k)) return true;
  for (const r of log) {
    for (const [k, v] of Object.entries(r.deps)) {
      const lo = least.get(k);
      if (lo !== undefined && lo < v) return true;
    }
  }
  return false;
}

/** Counts over many runs: runs checked, and runs showing each anomaly. */
export class AnomalyTally {
  runs = 0;
  readonly counts: Record<Anomaly, number> = {
    replyWithoutParent: 0,
    twoVersions: 0,
    olderThanSeen: 0,
    fractured: 0,
  };
  /** Runs by the exact set of anomalies they showed (at most 16 sets). */
  private readonly combos = new Map<string, number>();

  /** Checks one run's log and counts what it shows. */
  add(log: readonly ReadRecord[]): Set<Anomaly> {
    const found = checkRun(log);
    this.runs++;
    for (const a of found) this.counts[a]++;
    if (found.size > 0) {
      const combo = [...found].sort().join(",");
      this.combos.set(combo, (this.combos.get(combo) ?? 0) + 1);
    }
    return found;
  }

  /** Runs showing at least one anomaly that `level` promises to prevent. */
  violations(level: string): number {
    const prevented = PREVENTS[level] ?? [];
    let n = 0;
    for (const [combo, runs] of this.combos) {
      if (combo.split(",").some((a) => prevented.includes(a as Anomaly))) n += runs;
    }
    return n;
  }

  /** Runs showing any anomaly at all. */
  get anomalous(): number {
    return this.counts.fractured;
  }
}

import type { Timestamp } from "../lattice/index.js";

/** What a node knows of one committed transaction: when, and which keys it wrote. */
export interface CommitMeta {
  /** Record id, `<tid>.<epoch>`: names the version of every key the transaction wrote. */
  readonly rid: string;
  readonly ts: Timestamp;
  readonly keys: readonly string[];
  /** Keys of this commit not yet overwritten by a newer committed version. */
  live: number;
  /** When (local ms) the last of its keys was overwritten; undefined while any key is live. */
  dominatedAt: number | undefined;
}

/** A read set: each key read and the version read (a record id, or null for the initial one). */
export type ReadSet = ReadonlyMap<string, string | null>;

/**
 * The committed versions this node knows, per key, and the read-atomic choice among them. Pure
 * metadata, no I/O: the manager feeds it commits it learns and fetches values for its answers.
 */
export class VersionIndex {
  private readonly byRid = new Map<string, CommitMeta>();
  /** Per key, versions oldest first (by commit timestamp, then record id). */
  private readonly byKey = new Map<string, CommitMeta[]>();

  get size(): number {
    return this.byRid.size;
  }

  /** Keys with at least one known version. */
  get keyCount(): number {
    return this.byKey.size;
  }

  meta(rid: string): CommitMeta | undefined {
    return this.byRid.get(rid);
  }

  /** Learns a commit; false when it was known already. */
  add(rid: string, ts: Timestamp, keys: readonly string[], now: number): boolean {
    if (this.byRid.has(rid)) return false;
    const m: CommitMeta = { rid, ts, keys, live: keys.length, dominatedAt: undefined };
    this.byRid.set(rid, m);
    for (const k of keys) {
      let list = this.byKey.get(k);
      if (list === undefined) this.byKey.set(k, (list = []));
      let i = list.length;
      while (i > 0 && before(m, list[i - 1]!)) i--;
      list.splice(i, 0, m);
      if (i < list.length - 1)
        this.overwritten(m, now); // an older commit arrived late
      else if (i > 0) this.overwritten(list[i - 1]!, now);
    }
    if (keys.length === 0) m.dominatedAt = now;
    return true;
  }

  private overwritten(m: CommitMeta, now: number): void {
    m.live--;
    if (m.live === 0) m.dominatedAt = now;
  }

  /**
   * The version of `key` a transaction with read set `reads` may read (AFT's rule):
   * - at least every version a commit it already read from wrote (no fractured read);
   * - not one whose commit also wrote a key it read at an older version;
   * - the newest such. `null` is the initial version (nothing committed).
   * Every record id in `reads` must be known (the caller learns them first).
   */
  choose(key: string, reads: ReadSet): string | null {
    let lower: CommitMeta | undefined;
    for (const rid of reads.values()) {
      if (rid === null) continue;
      const m = this.byRid.get(rid);
      if (m !== undefined && m.keys.includes(key) && (lower === undefined || before(lower, m))) {
        lower = m;
      }
    }
    const list = this.byKey.get(key) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const t = list[i]!;
      if (lower !== undefined && before(t, lower)) break;
      if (this.compatible(t, reads)) return t.rid;
    }
    return lower?.rid ?? null;
  }

  /** Reading from `t` leaves no earlier read fractured. */
  private compatible(t: CommitMeta, reads: ReadSet): boolean {
    for (const l of t.keys) {
      if (!reads.has(l)) continue;
      const r = reads.get(l)!;
      if (r === null) return false;
      const rm = this.byRid.get(r);
      if (rm === undefined || before(rm, t)) return false;
    }
    return true;
  }

  /** The newest known version of `key`. */
  latest(key: string): string | null {
    const list = this.byKey.get(key);
    return list === undefined || list.length === 0 ? null : list[list.length - 1]!.rid;
  }

  /**
   * Forgets commits every key of which was overwritten before `watermark` (local ms), and
   * returns their record ids so the caller can collect their storage. The newest version of a
   * key is never dominated, so never forgotten.
   */
  collect(watermark: number): string[] {
    const out: string[] = [];
    const touched = new Set<string>();
    for (const m of this.byRid.values()) {
      if (m.dominatedAt === undefined || m.dominatedAt > watermark) continue;
      out.push(m.rid);
      this.byRid.delete(m.rid);
      for (const k of m.keys) touched.add(k);
    }
    // One pass per key: removing versions one by one (indexOf, splice) was quadratic in the
    // versions a hot key piles up within the grace period.
    for (const k of touched) {
      const list = this.byKey.get(k);
      if (list === undefined) continue;
      const kept = list.filter((m) => this.byRid.get(m.rid) === m);
      if (kept.length === 0) this.byKey.delete(k);
      else this.byKey.set(k, kept);
    }
    return out;
  }
}

/** Version order: commit timestamp, then record id (timestamps of two commits never tie in practice). */
function before(a: CommitMeta, b: CommitMeta): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.rid < b.rid);
}

import type { Timestamp } from "../lattice/index.js";

/** What a node knows of one committed transaction: when, and which keys it wrote. */
export interface CommitMeta {
  /** Record id, `<tid>.<epoch>`: names the version of every key the transaction wrote. */
  readonly rid: string;
  readonly ts: Timestamp;
  readonly keys: readonly string[];
  /** When (local ms) this node learned the commit. */
  readonly learnedAt: number;
}

/**
 * The committed versions this node knows, per key, in commit order. Pure metadata, no I/O: the
 * manager feeds it the commits it learns and drops a commit once its record is gone from storage
 * (its writes are in the plain keys by then), and {@link TxnSnapshot} reads from it.
 */
export class VersionIndex {
  private readonly byRid = new Map<string, CommitMeta>();
  /** Per key, versions oldest first (by commit timestamp, then record id). */
  private readonly byKey = new Map<string, CommitMeta[]>();
  /** Per key, the versions whose commit wrote other keys too (only they can fracture a read). */
  private readonly multiByKey = new Map<string, CommitMeta[]>();
  /** Bumped on every change of a key's versions: lets readers cache joins per key. */
  private readonly gen = new Map<string, number>();

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

  /** Every known commit, in no particular order. */
  all(): IterableIterator<CommitMeta> {
    return this.byRid.values();
  }

  /** Known versions of `key`, oldest first. */
  versions(key: string): readonly CommitMeta[] {
    return this.byKey.get(key) ?? EMPTY;
  }

  /** Known versions of `key` whose commit wrote other keys too, oldest first. */
  multiKey(key: string): readonly CommitMeta[] {
    return this.multiByKey.get(key) ?? EMPTY;
  }

  /** Changes whenever the versions of `key` change. */
  generation(key: string): number {
    return this.gen.get(key) ?? 0;
  }

  /** Learns a commit; false when it was known already. */
  add(rid: string, ts: Timestamp, keys: readonly string[], now: number): boolean {
    if (this.byRid.has(rid)) return false;
    const m: CommitMeta = { rid, ts, keys, learnedAt: now };
    this.byRid.set(rid, m);
    for (const k of keys) {
      insert(this.byKey, k, m);
      if (keys.length > 1) insert(this.multiByKey, k, m);
      this.gen.set(k, (this.gen.get(k) ?? 0) + 1);
    }
    return true;
  }

  /** Forgets a commit (its record was collected); true when it was known. */
  remove(rid: string): boolean {
    const m = this.byRid.get(rid);
    if (m === undefined) return false;
    this.byRid.delete(rid);
    for (const k of m.keys) {
      drop(this.byKey, k, m);
      drop(this.multiByKey, k, m);
      if (this.byKey.has(k)) this.gen.set(k, (this.gen.get(k) ?? 0) + 1);
      else this.gen.delete(k);
    }
    return true;
  }

  /** The newest known version of `key`. */
  latest(key: string): string | null {
    const list = this.byKey.get(key);
    return list === undefined || list.length === 0 ? null : list[list.length - 1]!.rid;
  }
}

const EMPTY: readonly CommitMeta[] = Object.freeze([]);

function insert(map: Map<string, CommitMeta[]>, k: string, m: CommitMeta): void {
  let list = map.get(k);
  if (list === undefined) map.set(k, (list = []));
  let i = list.length;
  while (i > 0 && before(m, list[i - 1]!)) i--;
  list.splice(i, 0, m);
}

function drop(map: Map<string, CommitMeta[]>, k: string, m: CommitMeta): void {
  const list = map.get(k);
  if (list === undefined) return;
  // Records are collected oldest first, so the version to drop is nearly always the first: a
  // search through a hot key's versions for each one made collection quadratic.
  if (list[0] === m) list.shift();
  else {
    const i = list.indexOf(m);
    if (i >= 0) list.splice(i, 1);
  }
  if (list.length === 0) map.delete(k);
}

/** Version order: commit timestamp, then record id (timestamps of two commits never tie in practice). */
export function before(a: CommitMeta, b: CommitMeta): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.rid < b.rid);
}

import { SnapshotConflictError } from "../errors/index.js";
import { latticeEquals, mergeLattices } from "../lattice/index.js";
import type { Lattice, Timestamp } from "../lattice/index.js";
import { before } from "./version-index.js";
import type { CommitMeta, VersionIndex } from "./version-index.js";

/**
 * What a snapshot reads from: the versions this node knows, their values, and the plain keys.
 * The transaction manager implements it.
 */
export interface SnapshotSource {
  readonly index: VersionIndex;
  /** The lattice commit `rid` wrote for `key` (null for a delete). */
  versionValue(rid: string, key: string): Promise<Lattice | null>;
  /**
   * The plain stored value of `key`. Once it resolves, every commit whose writes it may hold is
   * known to {@link index} (the manager waits for the change stream when it cannot tell).
   */
  base(key: string): Promise<Lattice | undefined>;
  /**
   * The join of every known version of `key` in commit order, with the newest delete's time
   * (versions before a delete are left out of the join).
   */
  joined(key: string): Promise<{ value: Lattice | undefined; delTs: Timestamp | undefined }>;
}

/** One key as a snapshot read it. */
interface Entry {
  value: Lattice | undefined;
  /** Compared by timestamp (a last-writer-wins value), not by lattice order. */
  lww: boolean;
  /** lww: the timestamp of what was read (the value's, or the delete's that left it absent). */
  ts?: Timestamp;
  /** lww: the committed version read, when the value is a commit's (AFT's read set entry). */
  cut?: CommitMeta;
  /** merge kinds: the newest delete the read reflects. */
  delTs?: Timestamp;
}

/**
 * One transaction's reads at its home node: every read of every function of a run (or of a
 * client's transaction) goes through this one object, so forks, fan-ins, several sources and
 * nested calls all read one snapshot, and a key read twice returns the same version.
 *
 * A read returns the plain key's value joined with the committed versions this node knows that
 * may not be in it yet, chosen by the read-atomic rule (AFT), generalized from last-writer-wins
 * values to every lattice:
 * - a version is *compatible* when every key its commit wrote that was read before includes that
 *   write (by timestamp for last-writer-wins values, by lattice order for the others);
 * - a read includes every commit an earlier read included that also wrote this key (the lower
 *   bound), and otherwise the newest compatible versions.
 * For last-writer-wins keys an incompatible newer version is simply skipped (AFT's older
 * version). A merged key (counter, set, …) joins every known version; when one of them is
 * incompatible, or a skipped version's write may already be in the plain key, the read fails
 * with `SNAPSHOT_CONFLICT` (retryable: the run or transaction starts again, counted).
 *
 * @example
 * ```ts
 * const snap = new TxnSnapshot("q123.1", clock.now(), Date.now() + 30_000, manager);
 * const a = await snap.read("acct/a");
 * const b = await snap.read("acct/b"); // never half of a transfer between a and b
 * ```
 */
export class TxnSnapshot {
  private readonly entries = new Map<string, Entry>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Rough bytes of the values held, for the table's bound. */
  bytes = 0;
  /** Reads answered (the first read of each key). */
  reads = 0;

  constructor(
    readonly id: string,
    readonly start: Timestamp,
    public deadline: number,
    private readonly src: SnapshotSource,
  ) {}

  /**
   * The value of `key` in this snapshot. Reads run one at a time: two branches of a fork that
   * read at once must see each other's choices.
   */
  read(key: string): Promise<Lattice | undefined> {
    const known = this.entries.get(key);
    if (known !== undefined) return Promise.resolve(known.value);
    const next = this.queue.then(() => this.readNow(key));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The newest commit timestamp read (a commit after this snapshot must be later). */
  maxTs(): Timestamp | undefined {
    let max: Timestamp | undefined;
    for (const e of this.entries.values()) {
      const t = e.ts ?? e.delTs;
      if (t !== undefined && (max === undefined || t > max)) max = t;
    }
    return max;
  }

  private async readNow(key: string): Promise<Lattice | undefined> {
    const known = this.entries.get(key);
    if (known !== undefined) return known.value;
    const base = await this.src.base(key);
    const lww = await this.isLww(key, base);
    const entry = lww ? await this.readLww(key, base) : await this.readMerged(key, base);
    this.entries.set(key, entry);
    this.reads++;
    this.bytes += key.length + 64 + approxBytes(entry.value);
    return entry.value;
  }

  /** Last-writer-wins when the stored value or the newest written version is one. */
  private async isLww(key: string, base: Lattice | undefined): Promise<boolean> {
    if (base !== undefined) return base.kind === "lww";
    const vs = this.src.index.versions(key);
    for (let i = vs.length - 1; i >= 0; i--) {
      const w = await this.src.versionValue(vs[i]!.rid, key);
      if (w !== null) return w.kind === "lww";
    }
    return true; // nothing anywhere: absent, compared by time
  }

  private async readLww(key: string, base: Lattice | undefined): Promise<Entry> {
    const vs = this.src.index.versions(key);
    const lb = await this.lowerBound(key);
    let chosen: CommitMeta | undefined;
    for (let i = vs.length - 1; i >= 0; i--) {
      const t = vs[i]!;
      if (lb !== undefined && before(t, lb)) break;
      if (await this.compatible(t, key)) {
        chosen = t;
        break;
      }
    }
    if (lb !== undefined && chosen === undefined) throw this.conflict(key, lb);
    let out: Entry = { value: undefined, lww: true };
    if (chosen !== undefined) {
      const w = await this.src.versionValue(chosen.rid, key);
      out = { value: w ?? undefined, lww: true, ts: chosen.ts, cut: chosen };
    }
    if (base !== undefined && base.kind === "lww") {
      // The plain value may be a version written back already: one this read must skip.
      const same = vs.find((t) => t.ts === base.ts);
      if (same !== undefined && same !== chosen && !(await this.compatible(same, key))) {
        if (chosen === undefined || before(chosen, same)) throw this.conflict(key, same);
      } else if (out.ts === undefined || base.ts > out.ts) {
        out = { value: base, lww: true, ts: base.ts };
        if (same !== undefined) out.cut = same;
      }
    }
    if (lb !== undefined && (out.ts === undefined || out.ts < lb.ts)) throw this.conflict(key, lb);
    return out;
  }

  private async readMerged(key: string, base: Lattice | undefined): Promise<Entry> {
    for (const t of this.src.index.multiKey(key)) {
      if (!(await this.compatible(t, key))) throw this.conflict(key, t);
    }
    const j = await this.src.joined(key);
    let value: Lattice | undefined;
    if (j.delTs !== undefined) value = j.value;
    else if (base === undefined) value = j.value;
    else value = j.value === undefined ? base : mergeLattices(base, j.value, key);
    const out: Entry = { value, lww: false };
    if (j.delTs !== undefined) out.delTs = j.delTs;
    return out;
  }

  /** Reading a version of `key` from `t` leaves no earlier read without `t`'s write. */
  private async compatible(t: CommitMeta, key: string): Promise<boolean> {
    for (const x of t.keys) {
      if (x === key) continue;
      const e = this.entries.get(x);
      if (e === undefined) continue;
      if (!covers(e, t, await this.src.versionValue(t.rid, x))) return false;
    }
    return true;
  }

  /** The newest commit an earlier read took in that also wrote `key`. */
  private async lowerBound(key: string): Promise<CommitMeta | undefined> {
    let lb: CommitMeta | undefined;
    const raise = (t: CommitMeta): void => {
      if (lb === undefined || before(lb, t)) lb = t;
    };
    for (const [x, e] of this.entries) {
      if (e.lww) {
        if (e.cut !== undefined && e.cut.keys.includes(key)) raise(e.cut);
        continue;
      }
      for (const t of this.src.index.multiKey(x)) {
        if (!t.keys.includes(key)) continue;
        if (covers(e, t, await this.src.versionValue(t.rid, x))) raise(t);
      }
    }
    return lb;
  }

  private conflict(key: string, t: CommitMeta): SnapshotConflictError {
    return new SnapshotConflictError(
      `transaction ${t.rid} committed between this snapshot's reads of its keys, and ${key} may ` +
        "hold part of it; the run starts again",
      { details: { key, commit: t.rid } },
    );
  }
}

/** Whether the read `e` of a key includes write `w` of that key by commit `t`. */
function covers(e: Entry, t: CommitMeta, w: Lattice | null): boolean {
  if (e.lww) return e.ts !== undefined && e.ts >= t.ts;
  if (w === null) return e.delTs !== undefined && e.delTs >= t.ts;
  return e.value !== undefined && leq(w, e.value);
}

/** `a` is below `b` in lattice order: `b` already holds everything `a` holds. */
function leq(a: Lattice, b: Lattice): boolean {
  if (a.kind !== b.kind) return false;
  const m = b.merge(a);
  return m === b || latticeEquals(m, b);
}

function approxBytes(l: Lattice | undefined): number {
  if (l === undefined) return 0;
  if (l.kind === "lww") return l.bytes.byteLength + 40;
  return 256;
}

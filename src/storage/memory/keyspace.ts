import {
  decodeLattice,
  deletedState,
  encodeLattice,
  isAbsent,
  mergeLattices,
} from "../../lattice/index.js";
import type { Lattice, Timestamp } from "../../lattice/index.js";
import type { LogRecord } from "./log-format.js";

/** One write after a `putIfAbsentThen`: a lattice to merge, or a delete unless newer. */
export type ThenOp =
  | readonly [key: string, value: Lattice]
  | readonly [key: string, value: null, unlessNewer: Timestamp];

/** Told of each key a write changed, and how. */
export type Changed = (kind: "put" | "delete", key: string) => void;

/** When an expiring key goes: `at` on this process's monotonic clock, `deadline` as logged. */
export interface Expiry {
  /** `performance.now()` time; the sweeper goes by it, so a wall-clock jump moves nothing. */
  at: number;
  /** Wall-clock milliseconds since the epoch: what the log records, to survive a restart. */
  deadline: number;
}

/**
 * The memory store's data: a lattice per key and the deadlines of the keys that expire. Live
 * writes and log replay change it through the same methods, so what a store showed before a
 * restart is what replaying its log shows after. Nothing here does I/O.
 *
 * A key may hold an absent lattice (a deleted counter keeps its floors, see `deletedState`): it
 * reads as absent (`shown`), and every write treats it as an absent key.
 *
 * @example
 * ```ts
 * const ks = new Keyspace();
 * ks.merge("k", new MaxLattice(1));
 * ks.delete("k"); // true
 * ks.shown("k"); // undefined
 * ```
 */
export class Keyspace {
  readonly data = new Map<string, Lattice>();
  /** Expiring keys, in the order their expiry was set. */
  readonly expiries = new Map<string, Expiry>();

  /** The key's lattice as readers see it: `undefined` when it holds nothing or an absent one. */
  shown(key: string): Lattice | undefined {
    const v = this.data.get(key);
    return v === undefined || isAbsent(v) ? undefined : v;
  }

  /** Merges `value` into the key; throws `LATTICE_TYPE_MISMATCH` and changes nothing. */
  merge(key: string, value: Lattice): { after: Lattice; changed: boolean } {
    const cur = this.data.get(key);
    const next = cur === undefined ? value : mergeLattices(cur, value, key);
    if (next === cur) return { after: cur, changed: false };
    this.data.set(key, next);
    return { after: next, changed: true };
  }

  /** Merges `value` only when the key reads as absent; true when it did. */
  putIfAbsent(key: string, value: Lattice): boolean {
    if (this.shown(key) !== undefined) return false;
    // Into nothing or into a deleted counter: a deleted counter keeps its floors, so the value
    // counts only what it adds above them; another kind replaces it.
    this.merge(key, value);
    return true;
  }

  /**
   * `putIfAbsent(key, value)` and, only when it stored, each write in order: a merge, or a
   * delete unless the key holds a last-writer-wins value newer than its time. "partial": some
   * merge was refused (a key of another kind), and the others applied.
   */
  putIfAbsentThen(
    key: string,
    value: Lattice,
    writes: readonly ThenOp[],
    changed: Changed,
  ): "stored" | "partial" | "present" {
    if (!this.putIfAbsent(key, value)) return "present";
    changed("put", key);
    let all = true;
    for (const w of writes) {
      const k = w[0];
      if (w[1] === null) {
        const cur = this.shown(k);
        if (cur?.kind === "lww" && cur.ts > w[2]) continue;
        if (this.delete(k)) changed("delete", k);
        continue;
      }
      try {
        if (this.merge(k, w[1]).changed) changed("put", k);
      } catch {
        all = false;
      }
    }
    return all ? "stored" : "partial";
  }

  /** Deletes the key (a counter keeps its floors); true when what it shows changed. */
  delete(key: string): boolean {
    this.expiries.delete(key);
    const cur = this.data.get(key);
    if (cur === undefined || isAbsent(cur)) return false;
    const rest = deletedState(cur);
    if (rest === undefined) this.data.delete(key);
    else this.data.set(key, rest);
    return true;
  }

  /** Removes the key whole, floors and all (it expired); true when it showed something. */
  drop(key: string): boolean {
    this.expiries.delete(key);
    const shown = this.shown(key) !== undefined;
    this.data.delete(key);
    return shown;
  }

  /** Sets the key's expiry to `deadline` (wall clock); false when the key reads as absent. */
  expire(key: string, deadline: number): boolean {
    if (this.shown(key) === undefined) return false;
    this.expiries.delete(key); // re-inserted last: the sweeper expects roughly deadline order
    this.expiries.set(key, { at: performance.now() + (deadline - Date.now()), deadline });
    return true;
  }

  /** Applies one record of the log, as the write that logged it did. */
  replay(rec: LogRecord): void {
    switch (rec.op) {
      case "put":
      case "put-if-absent": {
        const value = decodeLattice(rec.value);
        // A record that no longer merges (it was refused when written) is skipped, as it was then.
        try {
          if (rec.op === "put") this.merge(rec.key, value);
          else this.putIfAbsent(rec.key, value);
        } catch {
          /* unchanged */
        }
        return;
      }
      case "delete":
        this.delete(rec.key);
        return;
      case "drop":
        this.drop(rec.key);
        return;
      case "expire":
        this.expire(rec.key, rec.deadline);
        return;
      case "put-if-absent-then": {
        const then = rec.then.map((w): ThenOp =>
          w[1] === null ? [w[0], null, w[2] as Timestamp] : [w[0], decodeLattice(w[1])],
        );
        this.putIfAbsentThen(rec.key, decodeLattice(rec.value), then, () => undefined);
        return;
      }
    }
  }

  /** The log records that rebuild this keyspace: a snapshot for compaction. */
  *records(): Iterable<LogRecord> {
    for (const [key, value] of this.data) {
      yield { op: "put", key, value: encodeLattice(value) };
      const e = this.expiries.get(key);
      if (e !== undefined) yield { op: "expire", key, deadline: e.deadline };
    }
  }
}

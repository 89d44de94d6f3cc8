import { randomBytes } from "node:crypto";
import { MapLattice } from "../lattice/index.js";
import type { CounterTotals, Lattice, CounterLattice } from "../lattice/index.js";

interface Entry {
  writer: string;
  totals: CounterTotals;
}

/**
 * Turns unstamped counter deltas into this store's own running totals before they are written
 * (see {@link CounterLattice}). One per store instance: its writer name is random, so a process
 * that restarts is a new writer and can never repeat totals an earlier incarnation sent.
 *
 * The running totals of the counters this store wrote are kept in memory, least recently used
 * first out. A counter whose totals were forgotten and is written again continues under a fresh
 * writer name: one more entry in that counter, never a lost or doubled increment.
 *
 * Because a write carries totals, an increment is sent again inside every later write from this
 * store. An increment whose write failed with `STORAGE_UNAVAILABLE` is therefore applied with the
 * next write to that counter (or was applied already): callers must not repeat it.
 *
 * @example
 * ```ts
 * const counters = new CounterStamps();
 * counters.stamp("visits", CounterLattice.delta(1)); // CounterLattice { <writer>: [1, 0] }
 * counters.stamp("visits", CounterLattice.delta(1)); // CounterLattice { <writer>: [2, 0] }
 * ```
 */
export class CounterStamps {
  private readonly id: string;
  private readonly totals = new Map<string, Entry>();
  private generation = 0;
  /** Counters inside maps have been stamped: deletes must look for their paths too. */
  private nested = false;

  constructor(private readonly maxCounters = 100_000) {
    this.id = randomBytes(8).toString("hex");
  }

  /** `value` with every unstamped counter delta in it (also inside maps) replaced by totals. */
  stamp(key: string, value: Lattice): Lattice {
    if (value.kind === "counter") return value.pending === undefined ? value : this.one(key, value);
    if (value.kind !== "map") return value;
    let changed = false;
    this.nested = true;
    const out: [string, Lattice][] = [];
    for (const [k, v] of value.entries) {
      const s = this.stamp(`${key}\u0000${k}`, v);
      if (s !== v) changed = true;
      out.push([k, s]);
    }
    return changed ? new MapLattice(out) : value;
  }

  /**
   * `value` with its unstamped deltas given writer names used once and never again: for a write
   * that may not happen (`putIfAbsent`), whose totals must not leak into later writes.
   */
  stampOnce(value: Lattice): Lattice {
    // Nothing to stamp (a commit record, a fence): skip the random writer name, a synchronous
    // crypto call that cost a transaction's commit ~30 µs.
    if (value.kind !== "counter" && value.kind !== "map") return value;
    const once = new CounterStamps(1);
    return once.stamp("", value);
  }

  /**
   * Forgets the totals of `key`: the key expired and was removed whole, so a counter written
   * there again starts from zero, under a writer name never used. (A delete needs no forgetting:
   * it leaves floors at every writer's totals, see `CounterLattice.floored`, and this store's
   * later totals count only above them.)
   */
  forget(key: string): void {
    let dropped = this.totals.delete(key);
    if (this.nested) {
      const prefix = `${key}\u0000`;
      for (const k of this.totals.keys()) {
        if (k.startsWith(prefix)) dropped = this.totals.delete(k) || dropped;
      }
    }
    if (dropped) this.generation++;
  }

  private one(path: string, delta: CounterLattice): CounterLattice {
    let e = this.totals.get(path);
    if (e === undefined) {
      const writer = this.generation === 0 ? this.id : `${this.id}.${this.generation}`;
      e = { writer, totals: [0, 0] };
    } else {
      this.totals.delete(path); // re-inserted below: most recently used last
    }
    const { lattice, totals } = delta.stamp(e.writer, e.totals);
    this.totals.set(path, { writer: e.writer, totals });
    if (this.totals.size > this.maxCounters) {
      this.totals.delete(this.totals.keys().next().value as string);
      // Every counter touched from now on that was forgotten gets a writer name never used.
      this.generation++;
    }
    return lattice;
  }
}

/**
 * True when `l` holds a counter delta not stamped with running totals (also inside a map): a
 * write that, applied twice, would count twice. A commit's write-back takes none.
 */
export function hasDelta(l: Lattice): boolean {
  if (l.kind === "counter") return l.pending !== undefined;
  if (l.kind !== "map") return false;
  for (const [, v] of l.entries) if (hasDelta(v)) return true;
  return false;
}

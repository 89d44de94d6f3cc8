import { InvalidArgumentError } from "../errors/index.js";
import { assertSameKind } from "./kind.js";
import type { Lattice } from "./lattice.js";

/** One writer's running totals: everything it ever added, and everything it ever subtracted. */
export type CounterTotals = readonly [up: number, down: number];

/**
 * The writer name of an unstamped delta: what `counter(n)` builds before a store gives it a
 * writer. It never reaches storage (see {@link CounterLattice.stamp}).
 */
export const DELTA_WRITER = "";

function finite(n: number, what: string): number {
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw InvalidArgumentError.field(what, `must be a finite number, got ${String(n)}`);
  }
  return n;
}

const byWriter = (
  a: readonly [string, CounterTotals],
  b: readonly [string, CounterTotals],
): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * A PN-counter: exact under any concurrency, from any number of processes.
 *
 * Each writer keeps its own running totals of increments and decrements, and merge keeps the
 * larger total per writer. Sending a total rather than a delta is what makes a write idempotent:
 * a write that is retried, reordered or delivered twice changes nothing, so no increment is ever
 * lost or counted twice. The value is the sum of every writer's `up - down`.
 *
 * Application code never names writers: `CounterLattice.delta(n)` (the `counter(n)` constructor)
 * is an unstamped change, and the store that receives it turns it into that store's own running
 * total (`stamp`). Two unstamped deltas merge by adding up, as operations do.
 *
 * **Deleting a counter is a merge too.** A writer that never saw a delete goes on sending its
 * running totals, which include every increment from before the delete; removing the key would let
 * them count again. So a delete sets per-writer *floors*: each writer's totals at the moment of the
 * delete ({@link CounterLattice.floored}). Floors merge by maximum, like totals, and only what a
 * writer added above its floor counts. A counter whose every total equals its floor is
 * {@link CounterLattice.deleted}: stores read it as an absent key, and a write of another kind
 * replaces it as if the key were absent.
 *
 * @example
 * ```ts
 * const a = new CounterLattice([["w1", [5, 1]]]);
 * const b = new CounterLattice([["w1", [3, 0]], ["w2", [2, 0]]]);
 * a.merge(b).value; // 6: w1 has 5 - 1, w2 has 2
 * CounterLattice.delta(2).merge(CounterLattice.delta(-1)).value; // 1
 * const gone = a.floored(); // gone.deleted === true, gone.value === 0
 * gone.merge(new CounterLattice([["w1", [6, 1]]])).value; // 1: only what came after the delete
 * ```
 */
export class CounterLattice {
  readonly kind = "counter" as const;
  /** Totals by writer, sorted by writer name. */
  readonly entries: ReadonlyMap<string, CounterTotals>;
  /**
   * Floors by writer (the totals a delete saw), sorted by writer name; writers without one have
   * a floor of zero. A writer's totals are never below its floor.
   */
  readonly floors: ReadonlyMap<string, CounterTotals>;

  constructor(
    entries: Iterable<readonly [string, CounterTotals]> = [],
    floors: Iterable<readonly [string, CounterTotals]> = NO_FLOORS,
    /** Module-private: `entries` and `floors` are valid maps made by `merge`. */
    trusted?: typeof TRUSTED,
  ) {
    if (trusted === TRUSTED) {
      this.entries = sortedMap(entries as Map<string, CounterTotals>);
      const f = floors as Map<string, CounterTotals>;
      this.floors = f.size === 0 ? NO_FLOORS : sortedMap(f);
      return;
    }
    const map = collect(entries, "counter", true);
    // Most counters have no floors: skip the work (stamping builds one per write).
    const fl =
      floors === NO_FLOORS ? new Map<string, CounterTotals>() : collect(floors, "floor", false);
    for (const [w, f] of fl) {
      if (w === DELTA_WRITER) {
        throw InvalidArgumentError.field("floor", "an unstamped delta has no floor");
      }
      if (f[0] === 0 && f[1] === 0) {
        fl.delete(w);
        continue;
      }
      // Totals below a floor are lifted to it: those increments were deleted either way.
      const t = map.get(w);
      if (t === undefined || t[0] < f[0] || t[1] < f[1]) {
        map.set(w, t === undefined ? f : [Math.max(t[0], f[0]), Math.max(t[1], f[1])]);
      }
    }
    this.entries = sortedMap(map);
    this.floors = fl.size === 0 ? NO_FLOORS : sortedMap(fl);
  }

  /** An unstamped change of `n` (negative to subtract). */
  static delta(n: number): CounterLattice {
    finite(n, "delta");
    return new CounterLattice([[DELTA_WRITER, n >= 0 ? [n, 0] : [0, -n]]]);
  }

  /** The counter's value: every writer's increments minus its decrements, above its floor. */
  get value(): number {
    let sum = 0;
    for (const [up, down] of this.entries.values()) sum += up - down;
    for (const [up, down] of this.floors.values()) sum -= up - down;
    return sum;
  }

  /**
   * True when the counter was deleted and nothing was added since: every writer's totals equal
   * its floor. Stores read such a counter as an absent key.
   */
  get deleted(): boolean {
    if (this.floors.size === 0) return false;
    for (const [w, t] of this.entries) {
      const f = this.floors.get(w) ?? ZERO;
      if (t[0] !== f[0] || t[1] !== f[1]) return false;
    }
    return true;
  }

  /**
   * The counter after a delete: every writer's floor raised to its totals, so the increments seen
   * so far never count again, however often a writer sends them. `undefined` when there is
   * nothing to keep out (no writer has added anything): the key can simply go.
   */
  floored(): CounterLattice | undefined {
    const totals = [...this.entries].filter(([w]) => w !== DELTA_WRITER);
    if (totals.every(([, t]) => t[0] === 0 && t[1] === 0)) return undefined;
    return new CounterLattice(totals, totals);
  }

  /** The unstamped change this lattice carries, or undefined when it has none. */
  get pending(): CounterTotals | undefined {
    return this.entries.get(DELTA_WRITER);
  }

  /**
   * Replaces the unstamped change by `writer`'s new running totals (`base` plus the change), and
   * returns them with the stamped lattice. Stores call this; applications do not.
   */
  stamp(writer: string, base: CounterTotals): { lattice: CounterLattice; totals: CounterTotals } {
    const d = this.pending ?? [0, 0];
    const totals: CounterTotals = [base[0] + d[0], base[1] + d[1]];
    const rest = [...this.entries].filter(([w]) => w !== DELTA_WRITER && w !== writer);
    return { lattice: new CounterLattice([...rest, [writer, totals]], this.floors), totals };
  }

  merge(other: Lattice): CounterLattice {
    assertSameKind(this, other);
    const entries = join(this.entries, other.entries);
    // Each side's totals are at or above its own floors, so the joined totals are at or above the
    // joined floors: nothing to lift.
    const floors = join(this.floors, other.floors);
    if (entries === undefined && floors === undefined) return this;
    const e = entries ?? this.entries;
    const f = floors ?? this.floors;
    if (same(e, other.entries) && same(f, other.floors)) return other;
    return new CounterLattice(e, f, TRUSTED);
  }
}

const ZERO: CounterTotals = [0, 0];
const TRUSTED: unique symbol = Symbol("trusted counter");
const NO_FLOORS: ReadonlyMap<string, CounterTotals> = new Map();

function collect(
  items: Iterable<readonly [string, CounterTotals]>,
  what: string,
  deltas: boolean,
): Map<string, CounterTotals> {
  const map = new Map<string, CounterTotals>();
  for (const [w, [up, down]] of items) {
    if (typeof w !== "string") throw InvalidArgumentError.field("writer", "must be a string");
    finite(up, `${what}[${w}].up`);
    finite(down, `${what}[${w}].down`);
    if (up < 0 || down < 0) {
      throw InvalidArgumentError.field(`${what}[${w}]`, "totals must not be negative");
    }
    const cur = map.get(w);
    map.set(
      w,
      cur === undefined ? [up, down] : combine(deltas && w === DELTA_WRITER, cur, [up, down]),
    );
  }
  return map;
}

/** `map` itself when its writers are in order (the common case: no new writer), else sorted. */
function sortedMap(map: Map<string, CounterTotals>): ReadonlyMap<string, CounterTotals> {
  let prev: string | undefined;
  for (const w of map.keys()) {
    if (prev !== undefined && prev >= w) return new Map([...map].sort(byWriter));
    prev = w;
  }
  return map;
}

/** `a` joined with `b` writer by writer, or undefined when `b` adds nothing to `a`. */
function join(
  a: ReadonlyMap<string, CounterTotals>,
  b: ReadonlyMap<string, CounterTotals>,
): Map<string, CounterTotals> | undefined {
  let out: Map<string, CounterTotals> | undefined;
  for (const [w, t] of b) {
    const cur = a.get(w);
    const next = cur === undefined ? t : combine(w === DELTA_WRITER, cur, t);
    if (next !== cur) {
      out ??= new Map(a);
      out.set(w, next);
    }
  }
  return out;
}

/** A writer's totals merged: the larger of each; unstamped deltas (`add`) add up instead. */
function combine(add: boolean, a: CounterTotals, b: CounterTotals): CounterTotals {
  if (add) return [a[0] + b[0], a[1] + b[1]];
  if (b[0] <= a[0] && b[1] <= a[1]) return a;
  if (a[0] <= b[0] && a[1] <= b[1]) return b;
  return [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

function same(a: ReadonlyMap<string, CounterTotals>, b: ReadonlyMap<string, CounterTotals>) {
  if (a.size !== b.size) return false;
  for (const [w, t] of a) {
    const u = b.get(w);
    if (u === undefined || u[0] !== t[0] || u[1] !== t[1]) return false;
  }
  return true;
}

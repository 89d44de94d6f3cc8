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

const byWriter = (a: [string, CounterTotals], b: [string, CounterTotals]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;

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
 * @example
 * ```ts
 * const a = new CounterLattice([["w1", [5, 1]]]);
 * const b = new CounterLattice([["w1", [3, 0]], ["w2", [2, 0]]]);
 * a.merge(b).value; // 6: w1 has 5 - 1, w2 has 2
 * CounterLattice.delta(2).merge(CounterLattice.delta(-1)).value; // 1
 * ```
 */
export class CounterLattice {
  readonly kind = "counter" as const;
  /** Totals by writer, sorted by writer name. */
  readonly entries: ReadonlyMap<string, CounterTotals>;

  constructor(entries: Iterable<readonly [string, CounterTotals]> = []) {
    const list: [string, CounterTotals][] = [];
    for (const [w, [up, down]] of entries) {
      if (typeof w !== "string") throw InvalidArgumentError.field("writer", "must be a string");
      finite(up, `counter[${w}].up`);
      finite(down, `counter[${w}].down`);
      if (up < 0 || down < 0) {
        throw InvalidArgumentError.field(`counter[${w}]`, "totals must not be negative");
      }
      list.push([w, [up, down]]);
    }
    list.sort(byWriter);
    const map = new Map<string, CounterTotals>();
    for (const [w, t] of list) {
      const cur = map.get(w);
      map.set(w, cur === undefined ? t : combine(w, cur, t));
    }
    this.entries = map;
  }

  /** An unstamped change of `n` (negative to subtract). */
  static delta(n: number): CounterLattice {
    finite(n, "delta");
    return new CounterLattice([[DELTA_WRITER, n >= 0 ? [n, 0] : [0, -n]]]);
  }

  /** The counter's value: every writer's increments minus its decrements. */
  get value(): number {
    let sum = 0;
    for (const [up, down] of this.entries.values()) sum += up - down;
    return sum;
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
    return { lattice: new CounterLattice([...rest, [writer, totals]]), totals };
  }

  merge(other: Lattice): CounterLattice {
    assertSameKind(this, other);
    let changed = false;
    const out = new Map(this.entries);
    for (const [w, t] of other.entries) {
      const cur = out.get(w);
      const next = cur === undefined ? t : combine(w, cur, t);
      if (next !== cur) {
        out.set(w, next);
        changed = true;
      }
    }
    if (!changed) return this;
    return out.size === other.entries.size && sameTotals(out, other.entries)
      ? other
      : new CounterLattice(out);
  }
}

/** A writer's totals merged: the larger of each; unstamped deltas add up instead. */
function combine(w: string, a: CounterTotals, b: CounterTotals): CounterTotals {
  if (w === DELTA_WRITER) return [a[0] + b[0], a[1] + b[1]];
  if (b[0] <= a[0] && b[1] <= a[1]) return a;
  if (a[0] <= b[0] && a[1] <= b[1]) return b;
  return [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

function sameTotals(a: ReadonlyMap<string, CounterTotals>, b: ReadonlyMap<string, CounterTotals>) {
  for (const [w, t] of a) {
    const u = b.get(w);
    if (u === undefined || u[0] !== t[0] || u[1] !== t[1]) return false;
  }
  return true;
}

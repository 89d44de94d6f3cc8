import { InvalidArgumentError } from "../errors/index.js";
import { assertSameKind } from "./kind.js";
import type { Lattice } from "./lattice.js";

/** How two vector clocks relate. */
export type ClockOrder = "before" | "after" | "equal" | "concurrent";

function checkCounter(node: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw InvalidArgumentError.field(`clock[${node}]`, `must be a non-negative integer, got ${n}`);
  }
}

/**
 * A vector clock: one counter per node, merged by pointwise maximum. Missing entries count as 0.
 * Used on its own or as the version of a causal lattice.
 *
 * @example
 * ```ts
 * const a = VectorClock.of({ n1: 2 });
 * const b = VectorClock.of({ n2: 1 });
 * a.compare(b);               // "concurrent"
 * a.merge(b).compare(a);      // "after"
 * a.increment("n1").get("n1"); // 3
 * ```
 */
export class VectorClock {
  readonly kind = "vc" as const;
  /** Non-zero entries, sorted by node id. */
  readonly entries: ReadonlyMap<string, number>;

  constructor(entries: Iterable<readonly [string, number]> = []) {
    const list: [string, number][] = [];
    for (const [node, n] of entries) {
      checkCounter(node, n);
      if (n > 0) list.push([node, n]);
    }
    list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const map = new Map<string, number>();
    for (const [node, n] of list) map.set(node, Math.max(n, map.get(node) ?? 0));
    this.entries = map;
  }

  static of(record: Record<string, number>): VectorClock {
    return new VectorClock(Object.entries(record));
  }

  get(node: string): number {
    return this.entries.get(node) ?? 0;
  }

  /** A clock with `node`'s counter one higher. */
  increment(node: string): VectorClock {
    return new VectorClock([...this.entries, [node, this.get(node) + 1]]);
  }

  compare(other: VectorClock): ClockOrder {
    let less = false;
    let greater = false;
    for (const [node, n] of this.entries) {
      const m = other.get(node);
      if (n < m) less = true;
      else if (n > m) greater = true;
    }
    for (const [node, m] of other.entries) {
      if (!this.entries.has(node) && m > 0) less = true;
    }
    if (less && greater) return "concurrent";
    if (less) return "before";
    if (greater) return "after";
    return "equal";
  }

  /** True when this clock is greater than or equal to `other` in every entry. */
  dominates(other: VectorClock): boolean {
    const o = this.compare(other);
    return o === "after" || o === "equal";
  }

  merge(other: Lattice): VectorClock {
    assertSameKind(this, other);
    const o = this.compare(other);
    if (o === "after" || o === "equal") return this;
    if (o === "before") return other;
    return new VectorClock([...this.entries, ...other.entries]);
  }

  /** A canonical string for the clock, equal for equal clocks. */
  key(): string {
    return JSON.stringify([...this.entries]);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.entries);
  }
}

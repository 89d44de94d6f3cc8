import { InvalidArgumentError } from "../errors/index.js";
import { compareBytes } from "./bytes.js";
import { assertSameKind } from "./kind.js";
import type { Lattice } from "./lattice.js";
import { decodeValue, encodeValue } from "./values.js";

function finite(n: number, what: string): number {
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw InvalidArgumentError.field(what, `must be a finite number, got ${String(n)}`);
  }
  return n;
}

/**
 * A number that only grows: merge keeps the maximum. Use it for high-water marks and monotonic
 * counters that each writer advances from its own reading.
 *
 * @example
 * ```ts
 * new MaxLattice(3).merge(new MaxLattice(7)).value; // 7
 * ```
 */
export class MaxLattice {
  readonly kind = "max" as const;
  readonly value: number;
  constructor(value: number) {
    this.value = finite(value, "value");
  }
  merge(other: Lattice): MaxLattice {
    assertSameKind(this, other);
    return other.value > this.value ? other : this;
  }
}

/**
 * A number that only shrinks: merge keeps the minimum.
 *
 * @example
 * ```ts
 * new MinLattice(3).merge(new MinLattice(7)).value; // 3
 * ```
 */
export class MinLattice {
  readonly kind = "min" as const;
  readonly value: number;
  constructor(value: number) {
    this.value = finite(value, "value");
  }
  merge(other: Lattice): MinLattice {
    assertSameKind(this, other);
    return other.value < this.value ? other : this;
  }
}

/**
 * A value tagged with a priority; merge keeps the lowest priority (as in Anna), ties broken by
 * the smaller encoded value. Useful for "best so far" results such as the cheapest plan found.
 *
 * @example
 * ```ts
 * PriorityLattice.of(5, "slow").merge(PriorityLattice.of(2, "fast")).value(); // "fast"
 * ```
 */
export class PriorityLattice {
  readonly kind = "prio" as const;
  readonly priority: number;
  readonly bytes: Uint8Array;
  constructor(priority: number, bytes: Uint8Array) {
    this.priority = finite(priority, "priority");
    this.bytes = bytes;
  }
  static of(priority: number, value: unknown): PriorityLattice {
    return new PriorityLattice(priority, encodeValue(value));
  }
  value<T = unknown>(): T {
    return decodeValue<T>(this.bytes);
  }
  merge(other: Lattice): PriorityLattice {
    assertSameKind(this, other);
    if (other.priority < this.priority) return other;
    if (other.priority > this.priority) return this;
    return compareBytes(other.bytes, this.bytes) < 0 ? other : this;
  }
}

import { InvalidArgumentError } from "../errors/index.js";
import { compareBytes } from "./bytes.js";
import { assertSameKind, containsSorted, sortUnique, unionSorted } from "./kind.js";
import type { Lattice } from "./lattice.js";
import { decodeValue, encodeValue } from "./values.js";

/** Marks input that is already sorted and unique (merge results), skipping a re-sort. */
const SORTED: unique symbol = Symbol("sorted");

/**
 * Grow-only set; merge is union. Elements are identified by their encoded bytes and kept sorted
 * in byte order, so merging two sets is a linear walk.
 *
 * @example
 * ```ts
 * SetLattice.of(["a", "b"]).merge(SetLattice.of(["b", "c"])).values(); // ["a", "b", "c"]
 * ```
 */
export class SetLattice {
  readonly kind = "set" as const;
  /** Encoded elements, sorted by bytes, without duplicates. */
  readonly elements: readonly Uint8Array[];

  /** Takes encoded elements in any order; duplicates are dropped. */
  constructor(elements: Iterable<Uint8Array>, trusted?: typeof SORTED) {
    this.elements =
      trusted === SORTED ? (elements as Uint8Array[]) : sortUnique(elements, compareBytes);
  }

  static of(values: Iterable<unknown>): SetLattice {
    return new SetLattice([...values].map(encodeValue));
  }

  get size(): number {
    return this.elements.length;
  }

  has(value: unknown): boolean {
    return containsSorted(this.elements, encodeValue(value), compareBytes);
  }

  values<T = unknown>(): T[] {
    return this.elements.map((e) => decodeValue<T>(e));
  }

  merge(other: Lattice): SetLattice {
    assertSameKind(this, other);
    if (other.elements.length === 0) return this;
    if (this.elements.length === 0) return other;
    const merged = unionSorted(this.elements, other.elements, compareBytes);
    if (merged.length === this.elements.length) return this;
    if (merged.length === other.elements.length) return other;
    return new SetLattice(merged, SORTED);
  }
}

/** One entry of an ordered set: a numeric score and an encoded element. */
export interface OrderedEntry {
  readonly score: number;
  readonly bytes: Uint8Array;
}

function compareEntries(a: OrderedEntry, b: OrderedEntry): number {
  return a.score < b.score ? -1 : a.score > b.score ? 1 : compareBytes(a.bytes, b.bytes);
}

/**
 * Grow-only set of (score, element) pairs, read in score order; merge is union. The same element
 * added with two scores appears twice, exactly as two writers put it.
 *
 * @example
 * ```ts
 * OrderedSetLattice.of([[2, "b"], [1, "a"]]).values(); // ["a", "b"]
 * ```
 */
export class OrderedSetLattice {
  readonly kind = "oset" as const;
  readonly entries: readonly OrderedEntry[];

  constructor(entries: Iterable<OrderedEntry>, trusted?: typeof SORTED) {
    if (trusted === SORTED) {
      this.entries = entries as OrderedEntry[];
      return;
    }
    const list = [...entries];
    for (const e of list) {
      if (!Number.isFinite(e.score)) throw InvalidArgumentError.field("score", "must be finite");
    }
    this.entries = sortUnique(list, compareEntries);
  }

  static of(items: Iterable<readonly [number, unknown]>): OrderedSetLattice {
    return new OrderedSetLattice(
      [...items].map(([score, value]) => ({ score, bytes: encodeValue(value) })),
    );
  }

  get size(): number {
    return this.entries.length;
  }

  /** Elements in ascending score order. */
  values<T = unknown>(): T[] {
    return this.entries.map((e) => decodeValue<T>(e.bytes));
  }

  merge(other: Lattice): OrderedSetLattice {
    assertSameKind(this, other);
    const merged = unionSorted(this.entries, other.entries, compareEntries);
    if (merged.length === this.entries.length) return this;
    if (merged.length === other.entries.length) return other;
    return new OrderedSetLattice(merged, SORTED);
  }
}

import { LatticeTypeMismatchError } from "../errors/index.js";
import type { Lattice } from "./lattice.js";

/** Throws `LATTICE_TYPE_MISMATCH` unless `other` is the same kind of lattice as `self`. */
export function assertSameKind<T extends Lattice>(self: T, other: Lattice): asserts other is T {
  if (other.kind !== self.kind) throw LatticeTypeMismatchError.of(self.kind, other.kind);
}

/** Index of `item` in sorted `items`, or `-(insertion point) - 1` when absent. */
function binarySearch<T>(items: readonly T[], item: T, cmp: (x: T, y: T) => number): number {
  let lo = 0;
  let hi = items.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = cmp(items[mid] as T, item);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/** True when sorted `items` contains `item`. */
export function containsSorted<T>(
  items: readonly T[],
  item: T,
  cmp: (x: T, y: T) => number,
): boolean {
  return binarySearch(items, item, cmp) >= 0;
}

/**
 * Merges two sorted, duplicate-free arrays into one, keeping the first of equal items. Returns `a`
 * itself when `b` adds nothing. A few items merged into a large array are binary-searched rather
 * than walked, so growing a set one element at a time stays cheap.
 */
export function unionSorted<T>(
  a: readonly T[],
  b: readonly T[],
  cmp: (x: T, y: T) => number,
): readonly T[] {
  if (b.length * 16 < a.length) {
    const missing: [number, T][] = [];
    for (const item of b) {
      const at = binarySearch(a, item, cmp);
      if (at < 0) missing.push([-at - 1, item]);
    }
    if (missing.length === 0) return a;
    const out: T[] = [];
    let from = 0;
    for (const [at, item] of missing) {
      for (let i = from; i < at; i++) out.push(a[i] as T);
      out.push(item);
      from = at;
    }
    for (let i = from; i < a.length; i++) out.push(a[i] as T);
    return out;
  }
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as T;
    const y = b[j] as T;
    const c = cmp(x, y);
    if (c < 0) {
      out.push(x);
      i++;
    } else if (c > 0) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  while (i < a.length) out.push(a[i++] as T);
  while (j < b.length) out.push(b[j++] as T);
  return out;
}

/** Sorts and removes duplicates (by `cmp`), returning a new array. */
export function sortUnique<T>(items: Iterable<T>, cmp: (x: T, y: T) => number): T[] {
  const sorted = [...items].sort(cmp);
  const out: T[] = [];
  for (const item of sorted) {
    const last = out[out.length - 1];
    if (last === undefined || cmp(last, item) !== 0) out.push(item);
  }
  return out;
}

import { compareBytes } from "./bytes.js";
import type { Timestamp } from "./hlc.js";
import { assertSameKind } from "./kind.js";
import type { Lattice } from "./lattice.js";
import { decodeValue, encodeValue } from "./values.js";

/**
 * Last-writer-wins register: the value with the greatest hybrid-logical-clock timestamp wins.
 * Equal timestamps (only possible when one writer reuses a timestamp) fall back to byte order of
 * the values, so the merge stays deterministic.
 *
 * @example
 * ```ts
 * const clock = new HybridClock({ node: "a" });
 * const reg = LwwLattice.of({ n: 1 }, clock.now()).merge(LwwLattice.of({ n: 2 }, clock.now()));
 * reg.value(); // { n: 2 }
 * ```
 */
export class LwwLattice {
  readonly kind = "lww" as const;

  constructor(
    /** When the value was written. */
    readonly ts: Timestamp,
    /** The value, encoded with the value codec. */
    readonly bytes: Uint8Array,
  ) {}

  /** Wraps a user value. */
  static of(value: unknown, ts: Timestamp): LwwLattice {
    return new LwwLattice(ts, encodeValue(value));
  }

  /** Decodes the value (a fresh copy every call). */
  value<T = unknown>(): T {
    return decodeValue<T>(this.bytes);
  }

  merge(other: Lattice): LwwLattice {
    assertSameKind(this, other);
    if (other.ts > this.ts) return other;
    if (other.ts < this.ts) return this;
    return compareBytes(other.bytes, this.bytes) > 0 ? other : this;
  }
}

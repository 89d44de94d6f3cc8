/**
 * Lattices: the value types of Stratus storage. Pure code, no I/O.
 *
 * @example
 * ```ts
 * import { HybridClock, LwwLattice, SetLattice, encodeLattice, decodeLattice } from "./lattice/index.js";
 * const clock = new HybridClock({ node: "n1" });
 * const v = LwwLattice.of("hello", clock.now());
 * decodeLattice(encodeLattice(v)).kind; // "lww"
 * SetLattice.of([1, 2]).merge(SetLattice.of([2, 3])).values(); // [1, 2, 3]
 * ```
 */
export { isAbsent, joinKinds } from "./absent.js";
export { deletedState } from "./deletion.js";
export { asBuffer, bytesEqual, bytesKey, compareBytes } from "./bytes.js";
export { CausalLattice, MultiCausalLattice } from "./causal.js";
export type { CausalVersion, MultiCausalVersion } from "./causal.js";
export { lattices, plainValue, stampTime } from "./constructors.js";
export type { Lattices } from "./constructors.js";
export { CounterLattice, DELTA_WRITER } from "./counter.js";
export type { CounterTotals } from "./counter.js";
export { decodeLattice, encodeLattice, encodedSize, latticeEquals } from "./codec.js";
export {
  HybridClock,
  ZERO_TIMESTAMP,
  isTimestamp,
  makeTimestamp,
  nodeHash,
  parseTimestamp,
} from "./hlc.js";
export type { HybridClockOptions, Timestamp } from "./hlc.js";
export { LATTICE_KINDS, mergeLattices } from "./lattice.js";
export type { Lattice, LatticeKind } from "./lattice.js";
export { LwwLattice } from "./lww.js";
export { MapLattice } from "./map.js";
export { MaxLattice, MinLattice, PriorityLattice } from "./scalar.js";
export { OrderedSetLattice, SetLattice } from "./set.js";
export type { OrderedEntry } from "./set.js";
export {
  decodeValue,
  encodeValue,
  encodeValueOwned,
  ownValueBytes,
  typedDataOffset,
  valueHeader,
} from "./values.js";
export type { DecodeValueOptions } from "./values.js";
export { VectorClock } from "./vector-clock.js";
export type { ClockOrder } from "./vector-clock.js";

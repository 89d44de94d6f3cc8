import { decodeLattice, encodeLattice } from "../lattice/index.js";
import type { Lattice } from "../lattice/index.js";
import type { CarriedWrite } from "../protocol/index.js";
import { idMaker } from "./ids.js";

/** A buffered write as a run carries it (src/protocol's `CarriedWrite`). */
export type WireWrite = CarriedWrite;

/** One write in the log; `enc` caches its encoding (a carried write keeps the bytes it came as). */
interface Op {
  k: string;
  mode: 0 | 1;
  l: Lattice | null;
  id: string;
  enc?: Uint8Array | null;
}

// Unique op ids without a random draw per write: a random process prefix and a counter.
const newOpId = idMaker("w", 9);

/**
 * The writes of a run's transaction, in order, as they travel from node to node. A fan-in
 * receives the log of each branch; every branch repeats what was written upstream of the
 * fork, and the ids let the join take each write once. (A pending merge folded per key could
 * not be split again, and two counter deltas add up: a diamond counted its upstream's
 * increments twice.) A node's own writes to one key fold into one entry, so the log grows
 * with keys and nodes, not with writes.
 */
export class WriteLog {
  private readonly ops: Op[] = [];
  /** This node's own entry per key, while it is the last entry for that key. */
  private readonly local = new Map<string, Op>();
  private ids: Set<string> | undefined;

  /**
   * Takes in a write from elsewhere (carried in, another branch, a nested call). Returns its
   * key, mode and lattice to apply, or undefined when this log has it already.
   */
  take(w: WireWrite): { k: string; mode: 0 | 1; l: Lattice | null } | undefined {
    const [k, mode, v, given] = w;
    this.ids ??= new Set(this.ops.map((o) => o.id));
    if (given !== undefined && this.ids.has(given)) return undefined;
    const id = given ?? newOpId();
    const l = v === null ? null : decodeLattice(v);
    this.ops.push({ k, mode, l, id, enc: v });
    this.ids.add(id);
    this.local.delete(k); // a later write of this node must come after this one
    return { k, mode, l };
  }

  /**
   * Records a write of this node. A whole value replaces this node's entry for the key; a merge
   * is folded into it (`fold(previous lattice)`), keeping the entry's mode.
   */
  note(
    k: string,
    mode: 0 | 1,
    l: Lattice | null,
    fold?: (prev: Lattice | null) => Lattice | null,
  ): void {
    const prev = this.local.get(k);
    if (prev !== undefined) {
      if (mode === 0 || fold === undefined) {
        prev.mode = mode;
        prev.l = l;
      } else {
        prev.l = fold(prev.l);
      }
      delete prev.enc;
      return;
    }
    const op: Op = { k, mode, l, id: newOpId() };
    this.ops.push(op);
    this.ids?.add(op.id);
    this.local.set(k, op);
  }

  /** The log as it travels on. */
  wire(): WireWrite[] {
    return this.ops.map((o) => {
      if (o.enc === undefined) o.enc = o.l === null ? null : encodeLattice(o.l);
      return [o.k, o.mode, o.enc, o.id];
    });
  }

  clear(): void {
    this.ops.length = 0;
    this.local.clear();
    this.ids = undefined;
  }
}

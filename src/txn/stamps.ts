import { MapLattice } from "../lattice/index.js";
import type { CounterLattice, CounterTotals, Lattice } from "../lattice/index.js";
import { idMaker } from "./ids.js";

/** How a commit that held slots ended. */
export type StampOutcome = "committed" | "aborted" | "unknown";

interface Slot {
  writer: string;
  totals: CounterTotals;
}

interface Held {
  path: string;
  slot: Slot;
  stamped: CounterTotals;
}

/** What {@link CommitStamps.stamp} gives back: the stamped value and what to settle later. */
export interface Stamped {
  lattice: Lattice;
  held: Held[];
}

/** Writer names of transactional counter slots: `~` keeps them apart from plain writers. */
export const TXN_WRITER_PREFIX = "~";

const newSlotPrefix = idMaker(TXN_WRITER_PREFIX, 9);

/**
 * Turns the counter deltas of a commit into running totals of *slots*, so that a commit record
 * holds an exact lattice: writing it back twice, or joining it with the key's other writes, counts
 * every increment once (merges take the larger total per writer).
 *
 * A slot is a writer name used by at most one commit in flight per counter. A commit takes a free
 * slot (or a new one), stamps `slot totals + delta`, and settles when its outcome is known:
 * - committed: the slot's totals become the stamped ones, and the slot is free again;
 * - aborted (nothing written: a fence, a duplicate, a refusal): the slot is free, totals unchanged,
 *   so an aborted increment never rides on a later commit;
 * - unknown (storage failed mid-commit): the slot is dropped, since the stamped totals may or may
 *   not be stored; the next commit takes a new writer name.
 *
 * A counter thus gains at most one entry per commit in flight at once on this process (and per
 * process lifetime), not one per transaction. Counters inside maps are stamped per path.
 *
 * @example
 * ```ts
 * const stamps = new CommitStamps();
 * const s = stamps.stamp("visits", CounterLattice.delta(1));
 * // ... the commit record holding s.lattice is written ...
 * stamps.settle(s.held, "committed");
 * ```
 */
export class CommitStamps {
  private readonly prefix = newSlotPrefix();
  private next = 0;
  /** Free slots per counter path, least recently used path first. */
  private readonly free = new Map<string, Slot[]>();

  constructor(private readonly maxPaths = 100_000) {}

  /** `value` with every unstamped counter delta replaced by a slot's new running totals. */
  stamp(key: string, value: Lattice): Stamped {
    const held: Held[] = [];
    return { lattice: this.walk(key, value, held), held };
  }

  /** Releases the slots a commit held, once its outcome is known. */
  settle(held: readonly Held[], outcome: StampOutcome): void {
    for (const h of held) {
      if (outcome === "unknown") continue;
      if (outcome === "committed") h.slot.totals = h.stamped;
      let list = this.free.get(h.path);
      if (list === undefined) {
        list = [];
      } else {
        this.free.delete(h.path); // re-inserted: most recently used last
      }
      list.push(h.slot);
      this.free.set(h.path, list);
      // Forgetting a path's slots only costs fresh writer names the next time it is written.
      if (this.free.size > this.maxPaths) this.free.delete(this.free.keys().next().value as string);
    }
  }

  private walk(path: string, value: Lattice, held: Held[]): Lattice {
    if (value.kind === "counter") {
      if (value.pending === undefined) return value;
      return this.one(path, value, held);
    }
    if (value.kind !== "map") return value;
    let changed = false;
    const out: [string, Lattice][] = [];
    for (const [k, v] of value.entries) {
      const s = this.walk(`${path}\u0000${k}`, v, held);
      if (s !== v) changed = true;
      out.push([k, s]);
    }
    return changed ? new MapLattice(out) : value;
  }

  private one(path: string, delta: CounterLattice, held: Held[]): CounterLattice {
    // A path stamped twice in one commit (a map holding the same counter path cannot, but keep
    // the rule simple): each takes its own slot.
    const slot = this.free.get(path)?.pop() ?? {
      writer: `${this.prefix}.${(this.next++).toString(36)}`,
      totals: [0, 0] as CounterTotals,
    };
    const { lattice, totals } = delta.stamp(slot.writer, slot.totals);
    held.push({ path, slot, stamped: totals });
    return lattice;
  }
}

/** True for a counter writer name that a transaction's commit stamped. */
export function isTxnWriter(writer: string): boolean {
  return writer.startsWith(TXN_WRITER_PREFIX);
}

import { OverloadedError } from "../errors/index.js";
import type { Lattice } from "../lattice/index.js";

/** Options of {@link PinTable}. */
export interface PinTableOptions {
  /** Most versions pinned at once on this node, over all runs. @default 1000000 */
  maxPins?: number;
  /** How often runs past their deadline are released. @default 1000 */
  sweepMs?: number;
  /** The time, for tests. @default Date.now */
  now?: () => number;
}

interface RunPins {
  deadline: number;
  keys: Map<string, Lattice>;
}

/**
 * Versions pinned for runs at this node: what a run read here stays readable (by this node and,
 * over the wire, by the run's downstream nodes) after the cache moves on. Lattices are immutable,
 * so a pin is a reference, not a copy.
 *
 * A run's pins go when its sink announces its end ({@link release}) or, if that never comes (the
 * sink's node died, the message was lost), once its deadline has passed: a timer sweeps them.
 *
 * @example
 * ```ts
 * const pins = new PinTable();
 * pins.pin("run-1#0", deadline, "k", lattice);
 * pins.get("run-1#0", "k"); // lattice, until pins.release("run-1#0") or the deadline
 * ```
 */
export class PinTable {
  private readonly runs = new Map<string, RunPins>();
  private pinned = 0;
  private readonly maxPins: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  /** Counters since start, for metrics and tests. */
  readonly counts = { pinned: 0, released: 0, expired: 0 };

  constructor(o: PinTableOptions = {}) {
    this.maxPins = o.maxPins ?? 1_000_000;
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => this.sweep(), o.sweepMs ?? 1000);
    this.timer.unref();
  }

  /** Pins `value` as the version of `key` that run `run` sees; the first pin of a key stays. */
  pin(run: string, deadline: number, key: string, value: Lattice): Lattice {
    let r = this.runs.get(run);
    if (r === undefined) {
      r = { deadline, keys: new Map() };
      this.runs.set(run, r);
    }
    const held = r.keys.get(key);
    if (held !== undefined) return held;
    if (this.pinned >= this.maxPins) {
      throw new OverloadedError(`${this.pinned} versions are pinned on this node; try later`, {
        retryable: true,
      });
    }
    r.keys.set(key, value);
    this.pinned++;
    this.counts.pinned++;
    return value;
  }

  /** Replaces the run's version of `key` (after the run wrote it). */
  repin(run: string, deadline: number, key: string, value: Lattice): void {
    const r = this.runs.get(run);
    if (r?.keys.delete(key) === true) this.pinned--;
    this.pin(run, deadline, key, value);
  }

  get(run: string, key: string): Lattice | undefined {
    return this.runs.get(run)?.keys.get(key);
  }

  /** Drops every pin of `run`. */
  release(run: string): void {
    const r = this.runs.get(run);
    if (r === undefined) return;
    this.runs.delete(run);
    this.pinned -= r.keys.size;
    this.counts.released++;
  }

  /** Releases runs whose deadline has passed. */
  sweep(): void {
    const now = this.now();
    for (const [run, r] of this.runs) {
      if (r.deadline >= now) continue;
      this.runs.delete(run);
      this.pinned -= r.keys.size;
      this.counts.expired++;
    }
  }

  /** Runs with pins, and versions pinned. */
  get size(): { runs: number; pins: number } {
    return { runs: this.runs.size, pins: this.pinned };
  }

  close(): void {
    clearInterval(this.timer);
    this.runs.clear();
    this.pinned = 0;
  }
}

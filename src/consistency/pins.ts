import { OverloadedError } from "../errors/index.js";
import { encodedSize } from "../lattice/index.js";
import type { Lattice } from "../lattice/index.js";

/** Options of {@link PinTable}. */
export interface PinTableOptions {
  /** Most versions pinned at once on this node, over all runs. @default 1000000 */
  maxPins?: number;
  /**
   * Most bytes pinned at once on this node, over all runs (each pin counted at its value's
   * encoded size, though it may share the value with the cache). @default 268435456 (256 MiB)
   */
  maxPinBytes?: number;
  /** How often runs past their deadline are released. @default 1000 */
  sweepMs?: number;
  /** The time, for tests. @default Date.now */
  now?: () => number;
}

interface RunPins {
  deadline: number;
  keys: Map<string, Lattice>;
  bytes: number;
}

/** Sizes of pinned lattices: they are immutable, so each is measured once. */
const sizes = new WeakMap<Lattice, number>();

/** What one pin holds: its value's encoded size, and its key. */
function pinBytes(key: string, value: Lattice): number {
  let n = sizes.get(value);
  if (n === undefined) {
    n = encodedSize(value);
    sizes.set(value, n);
  }
  return n + key.length;
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
  private bytes = 0;
  private readonly maxPins: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  /** Counters since start, for metrics and tests. */
  readonly counts = { pinned: 0, released: 0, expired: 0 };

  constructor(o: PinTableOptions = {}) {
    this.maxPins = o.maxPins ?? 1_000_000;
    this.maxBytes = o.maxPinBytes ?? 256 * 1024 * 1024;
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => this.sweep(), o.sweepMs ?? 1000);
    this.timer.unref();
  }

  /** Pins `value` as the version of `key` that run `run` sees; the first pin of a key stays. */
  pin(run: string, deadline: number, key: string, value: Lattice): Lattice {
    let r = this.runs.get(run);
    const held = r?.keys.get(key);
    if (held !== undefined) return held;
    if (this.pinned >= this.maxPins) {
      throw new OverloadedError(`${this.pinned} versions are pinned on this node; try later`, {
        retryable: true,
      });
    }
    const size = pinBytes(key, value);
    if (this.bytes + size > this.maxBytes) {
      throw new OverloadedError(
        `${this.bytes} bytes are pinned on this node; ${size} more would pass ${this.maxBytes}; try later`,
        { retryable: true },
      );
    }
    if (r === undefined) {
      r = { deadline, keys: new Map(), bytes: 0 };
      this.runs.set(run, r);
    }
    r.keys.set(key, value);
    r.bytes += size;
    this.bytes += size;
    this.pinned++;
    this.counts.pinned++;
    return value;
  }

  /** Replaces the run's version of `key` (after the run wrote it). */
  repin(run: string, deadline: number, key: string, value: Lattice): void {
    const r = this.runs.get(run);
    const old = r?.keys.get(key);
    if (r !== undefined && old !== undefined) {
      r.keys.delete(key);
      const size = pinBytes(key, old);
      r.bytes -= size;
      this.bytes -= size;
      this.pinned--;
    }
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
    this.bytes -= r.bytes;
    this.counts.released++;
  }

  /** Releases runs whose deadline has passed. */
  sweep(): void {
    const now = this.now();
    for (const [run, r] of this.runs) {
      if (r.deadline >= now) continue;
      this.runs.delete(run);
      this.pinned -= r.keys.size;
      this.bytes -= r.bytes;
      this.counts.expired++;
    }
  }

  /** Runs with pins, versions pinned, and their bytes. */
  get size(): { runs: number; pins: number; bytes: number } {
    return { runs: this.runs.size, pins: this.pinned, bytes: this.bytes };
  }

  close(): void {
    clearInterval(this.timer);
    this.runs.clear();
    this.pinned = 0;
    this.bytes = 0;
  }
}

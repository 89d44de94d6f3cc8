import { InvalidArgumentError } from "../errors/index.js";

/**
 * A hybrid logical clock timestamp, written as 26 lowercase hex digits:
 * 12 for wall-clock milliseconds, 6 for the logical counter, 8 for the writer's node id.
 *
 * The fixed width makes string order equal timestamp order, in JavaScript and in Redis's Lua alike,
 * so last-writer-wins registers compare timestamps without parsing them. The node id breaks ties
 * between two writers that reach the same (wall, counter), so no two nodes ever produce equal
 * timestamps.
 */
export type Timestamp = string & { readonly __timestamp: true };

const WALL_DIGITS = 12;
const COUNTER_DIGITS = 6;
const NODE_DIGITS = 8;
const MAX_COUNTER = 0xffffff;
const TS_PATTERN = /^[0-9a-f]{26}$/;

/** The zero timestamp: older than any a clock produces. */
export const ZERO_TIMESTAMP = "0".repeat(26) as Timestamp;

/** True for a well-formed timestamp string. */
export function isTimestamp(s: unknown): s is Timestamp {
  return typeof s === "string" && TS_PATTERN.test(s);
}

/** Builds a timestamp from its parts. */
export function makeTimestamp(wallMs: number, counter: number, node: number): Timestamp {
  if (!Number.isSafeInteger(wallMs) || wallMs < 0 || wallMs >= 2 ** 48) {
    throw InvalidArgumentError.field("wallMs", `must be an integer in [0, 2^48), got ${wallMs}`);
  }
  if (!Number.isInteger(counter) || counter < 0 || counter > MAX_COUNTER) {
    throw InvalidArgumentError.field("counter", `must be an integer in [0, 2^24), got ${counter}`);
  }
  if (!Number.isInteger(node) || node < 0 || node > 0xffffffff) {
    throw InvalidArgumentError.field("node", `must be an unsigned 32-bit integer, got ${node}`);
  }
  return (wallMs.toString(16).padStart(WALL_DIGITS, "0") +
    counter.toString(16).padStart(COUNTER_DIGITS, "0") +
    node.toString(16).padStart(NODE_DIGITS, "0")) as Timestamp;
}

/** Splits a timestamp into its parts. */
export function parseTimestamp(ts: Timestamp): { wallMs: number; counter: number; node: number } {
  return {
    wallMs: parseInt(ts.slice(0, WALL_DIGITS), 16),
    counter: parseInt(ts.slice(WALL_DIGITS, WALL_DIGITS + COUNTER_DIGITS), 16),
    node: parseInt(ts.slice(WALL_DIGITS + COUNTER_DIGITS), 16),
  };
}

/** A 32-bit FNV-1a hash: turns a node name into the tie-break field of its timestamps. */
export function nodeHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Options of {@link HybridClock}. */
export interface HybridClockOptions {
  /** The writer's identity; a string is hashed to 32 bits. @default a random 32-bit id */
  node?: string | number;
  /** Physical clock in milliseconds. @default Date.now */
  now?: () => number;
  /**
   * A remote timestamp more than this many milliseconds ahead of the local clock is not adopted,
   * so one node with a wild clock cannot drag every other node's timestamps into the future.
   * @default 60000
   */
  maxDriftMs?: number;
}

/**
 * A hybrid logical clock (Kulkarni et al., 2014): timestamps stay close to wall-clock time, never
 * go backwards on one node, and move past every timestamp the node has observed.
 *
 * @example
 * ```ts
 * const clock = new HybridClock({ node: "node-a" });
 * const t1 = clock.now();
 * const t2 = clock.now(); // t2 > t1, even within the same millisecond
 * ```
 */
export class HybridClock {
  readonly node: number;
  private readonly physical: () => number;
  private readonly maxDriftMs: number;
  private wall = 0;
  private counter = 0;
  /** The greatest timestamp produced or observed so far, as sent by {@link stamp}. */
  private latest: Timestamp = ZERO_TIMESTAMP;

  constructor(options: HybridClockOptions = {}) {
    const node = options.node ?? Math.floor(Math.random() * 0x100000000);
    this.node = typeof node === "number" ? node >>> 0 : nodeHash(node);
    this.physical = options.now ?? Date.now;
    this.maxDriftMs = options.maxDriftMs ?? 60_000;
  }

  /** A fresh timestamp, greater than every timestamp this clock produced or observed. */
  now(): Timestamp {
    const pt = Math.floor(this.physical());
    if (pt > this.wall) {
      this.wall = pt;
      this.counter = 0;
    } else {
      this.bump();
    }
    this.latest = makeTimestamp(this.wall, this.counter, this.node);
    return this.latest;
  }

  /**
   * The greatest timestamp this clock has produced or observed, without producing a new one:
   * what a message carries so that its receiver's next timestamps are greater than every write
   * that happened before it was sent.
   */
  stamp(): Timestamp {
    return this.latest;
  }

  /**
   * Moves the clock past a timestamp received from elsewhere (a message, a stored value).
   * Anything that is not a well-formed timestamp is ignored: this is fed from the network.
   */
  observe(ts: unknown): void {
    // Fixed-width hex: string order is time order, so most observations stop at one comparison.
    if (typeof ts !== "string" || ts <= this.latest || !isTimestamp(ts)) return;
    const remote = parseTimestamp(ts);
    const pt = Math.floor(this.physical());
    if (remote.wallMs > pt + this.maxDriftMs) return;
    if (remote.wallMs > this.wall) {
      this.wall = remote.wallMs;
      this.counter = remote.counter;
    } else if (remote.wallMs === this.wall && remote.counter > this.counter) {
      this.counter = remote.counter;
    }
    this.latest = ts;
  }

  private bump(): void {
    if (this.counter < MAX_COUNTER) {
      this.counter++;
    } else {
      // 16M timestamps in one millisecond: borrow the next millisecond rather than wrap.
      this.wall++;
      this.counter = 0;
    }
  }
}

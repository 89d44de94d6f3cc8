import {
  InvalidArgumentError,
  NodeLostError,
  SnapshotConflictError,
  TimeoutError,
} from "../errors/index.js";
import { decodeLattice, encodeLattice } from "../lattice/index.js";
import type { Lattice } from "../lattice/index.js";
import { PIN_METHODS, isPinFetch, isPinRelease } from "../protocol/index.js";
import type { RunMeta } from "../protocol/index.js";
import { PinTable } from "./pins.js";
import type { PinTableOptions } from "./pins.js";
import type { SessionEnv } from "./session.js";
import { versionTag } from "./versions.js";

/** The version tag of a key a run read as absent. */
export const ABSENT = "-";

/** What a pinning level's read set holds per key: the version's tag and the node that pinned it. */
export type PinnedEntry = readonly [tag: string, node: string, ...rest: unknown[]];

/** The pin key of a run: its id and attempt, so a retried run never sees its first attempt's pins. */
export function pinKey(meta: RunMeta): string {
  return `${meta.run}#${meta.attempt}`;
}

/** Longest wait for another node's pinned version. */
const FETCH_TIMEOUT_MS = 5000;

/**
 * Pinned versions of one level on one node, and the way to them from other nodes: the local
 * {@link PinTable}, `consistency.fetch` to read another node's pin and `consistency.release` to
 * drop a finished run's pins everywhere it pinned.
 *
 * @example
 * ```ts
 * const pins = new PinnedVersions(env);
 * pins.table.pin(pinKey(meta), meta.deadline, "u/k", lattice);
 * await pins.fetch("n2", pinKey(meta), "u/k", meta.deadline); // n2's pinned version
 * ```
 */
export class PinnedVersions {
  readonly table: PinTable;

  constructor(
    private readonly env: Pick<SessionEnv, "nodeId" | "peers" | "membership" | "cache">,
    options: PinTableOptions = {},
  ) {
    this.table = new PinTable(options);
  }

  /** The version `node` pinned of `key` for `pin`. NODE_LOST or SNAPSHOT_CONFLICT when gone. */
  async fetch(node: string, pin: string, key: string, deadline: number): Promise<Lattice> {
    if (node === this.env.nodeId) {
      const l = this.table.get(pin, key);
      if (l === undefined) throw gone(node, key);
      return l;
    }
    const m = this.env.membership.get(node);
    if (m === undefined) throw lost(node, key);
    let bytes: unknown;
    try {
      const c = await this.env.peers.get(m.addr);
      const timeoutMs = Math.max(1, Math.min(FETCH_TIMEOUT_MS, deadline - Date.now()));
      bytes = await c.request(PIN_METHODS.fetch, { pin, key }, { timeoutMs });
    } catch (e) {
      throw lost(node, key, e);
    }
    if (!(bytes instanceof Uint8Array)) throw gone(node, key);
    return decodeLattice(bytes);
  }

  /**
   * The exact version a run read before (`entry`): pinned here, still in this node's cache, or
   * fetched from the pinning node. `fetched` is the trigger's memory of versions fetched, so a
   * key is fetched once per trigger.
   */
  async reread(
    pin: string,
    meta: RunMeta,
    key: string,
    [tag, node]: PinnedEntry,
    fetched: Map<string, Lattice>,
  ): Promise<Lattice | undefined> {
    if (tag === ABSENT) return undefined;
    if (node === this.env.nodeId) {
      const l = this.table.get(pin, key);
      if (l === undefined) throw new TimeoutError(`run ${meta.run} is past its deadline`);
      return l;
    }
    const held = fetched.get(key);
    if (held !== undefined) return held;
    // The cheap path: this cache still holds the pinned version.
    const local = await this.env.cache.get(key);
    if (local !== undefined && versionTag(local) === tag) return local;
    const l = await this.fetch(node, pin, key, meta.deadline);
    fetched.set(key, l);
    return l;
  }

  /**
   * At a run's end: drops its pins on every node it read from. A nested run reads under its
   * caller's pins (`pin` is not its own) and leaves them to its caller.
   */
  finish(pin: string, meta: RunMeta, reads: Iterable<PinnedEntry>): void {
    if (pin !== pinKey(meta)) return;
    const nodes = [...reads].map((e) => e[1]);
    this.release(pin, [...nodes, this.env.nodeId]);
  }

  /** Drops the pins of `pin` here and on `nodes` (best effort: deadlines catch what is lost). */
  release(pin: string, nodes: Iterable<string>): void {
    for (const n of new Set(nodes)) {
      if (n === this.env.nodeId) {
        this.table.release(pin);
        continue;
      }
      const m = this.env.membership.get(n);
      if (m !== undefined) this.env.peers.notify(m.addr, PIN_METHODS.release, { pin });
    }
  }

  /** Serves another node's fetch or release; undefined for what is not a pin of this table. */
  handle(method: string, payload: unknown): Uint8Array | undefined {
    if (method === PIN_METHODS.fetch) {
      if (!isPinFetch(payload)) throw new InvalidArgumentError(`malformed ${method}`);
      const l = this.table.get(payload.pin, payload.key);
      return l === undefined ? undefined : encodeLattice(l);
    }
    if (method === PIN_METHODS.release && isPinRelease(payload)) this.table.release(payload.pin);
    return undefined;
  }

  close(): void {
    this.table.close();
  }
}

function lost(node: string, key: string, cause?: unknown): NodeLostError {
  return new NodeLostError(
    `node ${node}, which pinned the run's version of ${key.slice(2)}, cannot be reached`,
    { details: { node }, cause },
  );
}

function gone(node: string, key: string): SnapshotConflictError {
  return new SnapshotConflictError(
    `the run's pinned version of ${key.slice(2)} is no longer held by node ${node}`,
    { details: { node } },
  );
}

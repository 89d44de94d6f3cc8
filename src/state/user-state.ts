import {
  InvalidArgumentError,
  InvalidKeyError,
  LatticeTypeMismatchError,
  isStratusError,
} from "../errors/index.js";
import {
  decodeLattice,
  encodeLattice,
  encodeValue,
  plainValue,
  stampTime,
} from "../lattice/index.js";
import type { HybridClock, Lattice } from "../lattice/index.js";
import { LwwLattice } from "../lattice/index.js";

/** Where user keys live in storage. */
export const USER_PREFIX = "u/";

/**
 * The storage key of a user key (what the SDK and `ctx` call a key). An empty key would name
 * the namespace itself, so it is refused like any invalid key.
 */
export function userKey(k: unknown): string {
  if (typeof k !== "string" || k.length === 0) {
    throw new InvalidKeyError("key must be a non-empty string");
  }
  return USER_PREFIX + k;
}

/** What {@link UserState} reads and writes through: a Store, or a node's cache in front of one. */
export interface LatticeSource {
  get(key: string): Promise<Lattice | undefined>;
  put(key: string, value: Lattice): Promise<unknown>;
  delete(key: string): Promise<void>;
}

/** A read user value: its encoded plain value, and for last-writer-wins values their version. */
export interface ReadValue {
  bytes: Uint8Array;
  /** The timestamp of a last-writer-wins value: the same version always holds the same bytes. */
  version?: string;
}

/**
 * The state API applications see (`get`, `put`, `merge`, `delete`, and the lattice itself), over
 * user keys, shared by the gateway (for clients) and the node (for `ctx`). Values cross it as
 * bytes: encoded plain values and encoded lattices, decoded only by the application.
 *
 * Every value read moves this process's clock past its timestamp, and every write is stamped by
 * that clock, so a write that causally follows a read always wins over what was read.
 *
 * @example
 * ```ts
 * const state = new UserState(store, clock);
 * await state.merge("visits", encodeLattice(lattices.counter(1)));
 * decodeValue((await state.read("visits"))!.bytes); // 1
 * ```
 */
export class UserState {
  constructor(
    private readonly source: LatticeSource,
    private readonly clock: HybridClock,
  ) {}

  /** The plain value of `key`, or undefined when it holds nothing. */
  async read(key: unknown): Promise<ReadValue | undefined> {
    const l = await this.load(key);
    if (l === undefined) return undefined;
    if (l.kind === "lww") return { bytes: l.bytes, version: l.ts };
    return { bytes: encodeValue(plainValue(l)) };
  }

  /** The lattice `key` holds, encoded, or undefined. */
  async readLattice(key: unknown): Promise<Uint8Array | undefined> {
    const l = await this.load(key);
    return l === undefined ? undefined : encodeLattice(l);
  }

  /** Writes an encoded value as last-writer-wins, timestamped now. */
  async put(key: unknown, bytes: Uint8Array): Promise<void> {
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("value must be encoded");
    await this.write(key, new LwwLattice(this.clock.now(), bytes));
  }

  /** Merges an encoded lattice into `key`. */
  async merge(key: unknown, encoded: Uint8Array): Promise<void> {
    if (!(encoded instanceof Uint8Array)) {
      throw new InvalidArgumentError("merge takes a lattice (see lattices)");
    }
    await this.write(
      key,
      stampTime(decodeLattice(encoded), () => this.clock.now()),
    );
  }

  async delete(key: unknown): Promise<void> {
    await this.source.delete(userKey(key));
  }

  private async load(key: unknown): Promise<Lattice | undefined> {
    const l = await this.source.get(userKey(key));
    if (l !== undefined) observe(this.clock, l);
    return l;
  }

  private async write(key: unknown, l: Lattice): Promise<void> {
    const full = userKey(key);
    try {
      await this.source.put(full, l);
    } catch (e) {
      throw userError(e, key as string);
    }
  }
}

/** Moves the clock past every last-writer-wins timestamp in `l`. */
function observe(clock: HybridClock, l: Lattice): void {
  if (l.kind === "lww") clock.observe(l.ts);
  else if (l.kind === "map") for (const v of l.entries.values()) observe(clock, v);
}

/** A storage error about the stored key, restated in terms of the user's key. */
function userError(e: unknown, key: string): unknown {
  if (!isStratusError(e) || e.code !== "LATTICE_TYPE_MISMATCH") return e;
  const d = e.details ?? {};
  const stored = typeof d["stored"] === "string" ? d["stored"] : "?";
  const incoming = typeof d["incoming"] === "string" ? d["incoming"] : "?";
  const at = typeof d["key"] === "string" ? d["key"] : USER_PREFIX + key;
  const path = at.startsWith(USER_PREFIX) ? at.slice(USER_PREFIX.length) : key;
  return LatticeTypeMismatchError.of(stored, incoming, path);
}

import { InvalidArgumentError, SnapshotConflictError } from "../errors/index.js";
import type { Lattice } from "../lattice/index.js";
import type { RrSlot, RunMeta } from "../protocol/index.js";
import { UserState, userKey } from "../state/index.js";
import type { ReadValue } from "../state/index.js";
import { ABSENT, PinnedVersions, pinKey } from "./pinned.js";
import type { PinTableOptions } from "./pins.js";
import type { RunSession, SessionEnv, SessionPolicy } from "./session.js";
import { MAX_SESSION_KEYS, tooLarge, versionTag } from "./versions.js";

/** A read set entry: the version's tag (`-` for a key read as absent) and the pinning node. */
type ReadEntry = RrSlot["r"][string];

/** What a repeatable-read run carries (`session.rr`). */
type RrMeta = RrSlot;

function rrFrom(meta: RunMeta): RrMeta {
  // Untrusted until checked here: it came from a peer.
  const v: unknown = meta.session.rr;
  if (v === undefined) return { p: pinKey(meta), r: {} };
  const bad = (why: string): InvalidArgumentError => InvalidArgumentError.field("session.rr", why);
  if (typeof v !== "object" || v === null) throw bad("must be an object");
  const { p, r } = v as Partial<RrMeta>;
  if (typeof p !== "string" || p.length === 0 || p.length > 256) throw bad("p: a pin key");
  if (typeof r !== "object" || r === null || Array.isArray(r)) throw bad("r: a read set");
  const entries = Object.entries(r);
  if (entries.length > MAX_SESSION_KEYS) throw tooLarge("rr", entries.length);
  for (const [, e] of entries) {
    if (!Array.isArray(e) || e.length !== 2 || !e.every((x) => typeof x === "string")) {
      throw bad("r: entries are [tag, node]");
    }
  }
  return { p, r };
}

/**
 * Distributed session repeatable read: within one run, every read of a key returns the same
 * version, whichever node and function reads it. The first read pins the version at its node;
 * the read set (key → version tag, node) travels with the run; a later read elsewhere uses the
 * local cache when it still holds that version (no message) and otherwise fetches the exact
 * version from the pinning node. The sink releases the pins; a deadline sweep catches the rest.
 *
 * @example
 * ```ts
 * const node = await Node.start({ ...options, sessionPolicies: [repeatableRead()] });
 * await cloud.callDag("timeline", inputs, { consistency: "repeatable-read" });
 * ```
 */
export class RepeatableReadPolicy implements SessionPolicy {
  readonly level = "repeatable-read" as const;
  readonly pins: PinnedVersions;

  constructor(
    readonly env: SessionEnv,
    options: PinTableOptions = {},
  ) {
    this.pins = new PinnedVersions(env, options);
  }

  open(meta: RunMeta): RunSession {
    return new RrSession(this, meta, rrFrom(meta));
  }

  join(metas: RunMeta[]): RunMeta {
    const first = metas[0] as RunMeta;
    const merged = rrFrom(first);
    // Branches that first read one key on two nodes may have read two versions of it: the run
    // saw the key twice, so it starts again (SNAPSHOT_CONFLICT is retried with a fresh session).
    for (const m of metas.slice(1)) {
      for (const [k, e] of Object.entries(rrFrom(m).r)) {
        const cur = merged.r[k];
        if (cur === undefined) merged.r[k] = e;
        else if (cur[0] !== e[0]) throw forkConflict(first, k);
      }
    }
    return { ...first, session: { ...first.session, rr: merged } };
  }

  handle(method: string, payload: unknown): unknown {
    return this.pins.handle(method, payload);
  }

  async close(): Promise<void> {
    this.pins.close();
  }
}

class RrSession implements RunSession {
  private readonly reads: Map<string, ReadEntry>;
  /** Versions fetched from other nodes during this trigger: read again, not fetched again. */
  private readonly fetched = new Map<string, Lattice>();
  private readonly reader: UserState;

  constructor(
    private readonly policy: RepeatableReadPolicy,
    private readonly meta: RunMeta,
    private readonly rr: RrMeta,
  ) {
    this.reads = new Map(Object.entries(rr.r));
    this.reader = new UserState(
      { get: (k) => this.resolve(k), put: refuse, delete: refuse },
      policy.env.clock,
    );
  }

  get(key: unknown): Promise<ReadValue | undefined> {
    return this.reader.read(key);
  }

  getLattice(key: unknown): Promise<Uint8Array | undefined> {
    return this.reader.readLattice(key);
  }

  /** The run's version of storage key `k`, pinning it here if this is the run's first read. */
  private async resolve(k: string): Promise<Lattice | undefined> {
    const { env, pins } = this.policy;
    const e = this.reads.get(k);
    if (e === undefined) {
      const l = await env.cache.get(k);
      if (this.reads.size >= MAX_SESSION_KEYS) throw tooLarge("rr", this.reads.size + 1);
      if (l === undefined) {
        this.reads.set(k, [ABSENT, env.nodeId]);
        return undefined;
      }
      pins.table.repin(this.rr.p, this.meta.deadline, k, l);
      this.reads.set(k, [versionTag(l), env.nodeId]);
      return l;
    }
    return pins.reread(this.rr.p, this.meta, k, e, this.fetched);
  }

  async put(key: unknown, value: Uint8Array): Promise<void> {
    await this.policy.env.state.put(key, value);
    this.forget(key);
  }

  async merge(key: unknown, lattice: Uint8Array): Promise<void> {
    await this.policy.env.state.merge(key, lattice);
    this.forget(key);
  }

  async delete(key: unknown): Promise<void> {
    await this.policy.env.state.delete(key);
    this.forget(key);
  }

  /** After the run's own write, its next read sees the key anew (and pins that). */
  private forget(key: unknown): void {
    const k = userKey(key);
    this.reads.delete(k);
    this.fetched.delete(k);
  }

  forward(): RunMeta {
    const rr: RrMeta = { p: this.rr.p, r: Object.fromEntries(this.reads) };
    return { ...this.meta, session: { ...this.meta.session, rr } };
  }

  async finish(): Promise<void> {
    this.policy.pins.finish(this.rr.p, this.meta, this.reads.values());
  }
}

/** Two branches of one run read `key` at two versions. */
export function forkConflict(meta: RunMeta, storeKey: string): SnapshotConflictError {
  const key = storeKey.startsWith("u/") ? storeKey.slice(2) : storeKey;
  return new SnapshotConflictError(
    `two branches of run ${meta.run} read ${key} at two versions; the run starts again`,
    { details: { key, fork: true } },
  );
}

function refuse(): never {
  throw new InvalidArgumentError("a read-only view");
}

/** The factory the composition root lists: `sessionPolicies: [repeatableRead()]`. */
export function repeatableRead(options: PinTableOptions = {}) {
  return (env: SessionEnv): RepeatableReadPolicy => new RepeatableReadPolicy(env, options);
}

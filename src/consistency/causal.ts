import { InvalidArgumentError, StorageUnavailableError } from "../errors/index.js";
import { decodeLattice, encodeLattice, encodeValue, plainValue } from "../lattice/index.js";
import type { Lattice, MultiCausalLattice, VectorClock } from "../lattice/index.js";
import type { RunMeta } from "../protocol/index.js";
import { userKey } from "../state/index.js";
import type { ReadValue } from "../state/index.js";
import type { RunSession, SessionEnv, SessionPolicy } from "./session.js";
import {
  CausalWriter,
  causalVersion,
  chosenVersion,
  depsFrom,
  depsRecord,
  joinDep,
  joinDeps,
  versionTag,
} from "./versions.js";

/** Refetches from storage before a read that must see a newer version gives up. */
const REFETCHES = 3;

/**
 * Reads and writes of causal values shared by `causal` and `transactional-causal`: the version of
 * a key at least as new as a clock (refetched from storage when the cache is behind), a causal
 * write after what storage holds, and the read value of a causal lattice.
 */
export class CausalValues {
  readonly writer: CausalWriter;

  constructor(readonly env: SessionEnv) {
    this.writer = new CausalWriter(env.nodeId);
  }

  /** The cache's value of `k`, refetched while it is older than `need` (storage never is). */
  async atLeast(k: string, need: VectorClock | undefined): Promise<Lattice | undefined> {
    let l = await this.env.cache.get(k);
    for (let i = 0; need !== undefined && !covers(l, need); i++) {
      if (i === REFETCHES) {
        throw new StorageUnavailableError(
          `storage does not yet hold the version of ${k.slice(2)} this run depends on`,
          { retryable: true },
        );
      }
      l = await this.env.cache.fresh(k);
    }
    return l;
  }

  /**
   * Writes `bytes` to `k` as a new causal version depending on `deps`, after the version storage
   * holds (read from storage, not the cache, so one writer's writes form a chain, not siblings).
   */
  async write(
    k: string,
    bytes: Uint8Array,
    deps: Map<string, VectorClock>,
  ): Promise<MultiCausalLattice> {
    const base = await this.env.store.get(k);
    if (base !== undefined && base.kind === "mcausal") {
      joinDep(deps, k, base.clock);
      joinDeps(deps, base.dependencies);
    }
    const own = new Map(deps);
    own.delete(k);
    const v = causalVersion(this.writer, base, bytes, own);
    // Through the state API: its clock, its LATTICE_TYPE_MISMATCH naming the user's key.
    await this.env.state.merge(k.slice(2), encodeLattice(v));
    joinDep(deps, k, v.clock);
    return v;
  }
}

/** True when `l` is a causal value at least as new as `need`. */
export function covers(l: Lattice | undefined, need: VectorClock): boolean {
  return l !== undefined && l.kind === "mcausal" && l.clock.dominates(need);
}

/** What `get` returns for a lattice: a causal value's chosen sibling, else the plain value. */
export function readValue(l: Lattice): ReadValue {
  if (l.kind === "lww") return { bytes: l.bytes, version: l.ts };
  if (l.kind === "mcausal") {
    const v = chosenVersion(l);
    return v === undefined
      ? { bytes: encodeValue(undefined) }
      : { bytes: v.bytes, version: versionTag(l) };
  }
  return { bytes: encodeValue(plainValue(l)) };
}

function ccFrom(meta: RunMeta): Map<string, VectorClock> {
  return depsFrom(meta.session.cc, "session.cc");
}

/**
 * Distributed session causal consistency (CausalMesh-style: no pins, no coordination). A run
 * carries `session.cc`, key → clock: the join of the versions it read and wrote and of their
 * dependencies. A read never returns a version older than that (a cache that is behind is
 * refetched from storage); writes are `mcausal` versions that carry the run's dependencies.
 * Concurrent versions stay siblings: `get` returns the first in clock order, `getLattice` (and
 * `ctx.getVersions`) all of them. Keys holding other lattices are read and merged as under lww.
 *
 * @example
 * ```ts
 * const node = await Node.start({ ...options, sessionPolicies: [causal()] });
 * await cloud.callDag("timeline", inputs, { consistency: "causal" });
 * ```
 */
export class CausalPolicy implements SessionPolicy {
  readonly level = "causal" as const;
  readonly values: CausalValues;

  constructor(readonly env: SessionEnv) {
    this.values = new CausalValues(env);
  }

  open(meta: RunMeta): RunSession {
    return new CausalSession(this, meta, ccFrom(meta));
  }

  join(metas: RunMeta[]): RunMeta {
    const deps = new Map<string, VectorClock>();
    for (const m of metas) joinDeps(deps, ccFrom(m));
    const first = metas[0] as RunMeta;
    return { ...first, session: { ...first.session, cc: depsRecord(deps, "cc") } };
  }
}

class CausalSession implements RunSession {
  constructor(
    private readonly policy: CausalPolicy,
    private readonly meta: RunMeta,
    private readonly deps: Map<string, VectorClock>,
  ) {}

  private async read(key: unknown): Promise<Lattice | undefined> {
    const k = userKey(key);
    const l = await this.policy.values.atLeast(k, this.deps.get(k));
    if (l !== undefined && l.kind === "mcausal") {
      joinDep(this.deps, k, l.clock);
      joinDeps(this.deps, l.dependencies);
    } else if (l !== undefined && l.kind === "lww") this.policy.env.clock.observe(l.ts);
    return l;
  }

  async get(key: unknown): Promise<ReadValue | undefined> {
    const l = await this.read(key);
    return l === undefined ? undefined : readValue(l);
  }

  async getLattice(key: unknown): Promise<Uint8Array | undefined> {
    const l = await this.read(key);
    return l === undefined ? undefined : encodeLattice(l);
  }

  async put(key: unknown, value: Uint8Array): Promise<void> {
    if (!(value instanceof Uint8Array)) throw new InvalidArgumentError("value must be encoded");
    await this.policy.values.write(userKey(key), value, this.deps);
  }

  async merge(key: unknown, lattice: Uint8Array): Promise<void> {
    const l = decodeLattice(lattice);
    if (l.kind === "mcausal") joinDep(this.deps, userKey(key), l.clock);
    await this.policy.env.state.merge(key, lattice);
  }

  delete(key: unknown): Promise<void> {
    return this.policy.env.state.delete(key);
  }

  forward(): RunMeta {
    return { ...this.meta, session: { ...this.meta.session, cc: depsRecord(this.deps, "cc") } };
  }

  async finish(): Promise<void> {}
}

/** The factory the composition root lists: `sessionPolicies: [causal()]`. */
export function causal() {
  return (env: SessionEnv): CausalPolicy => new CausalPolicy(env);
}

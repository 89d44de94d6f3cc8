import { InvalidArgumentError, SnapshotConflictError } from "../errors/index.js";
import { encodeLattice } from "../lattice/index.js";
import type { Lattice, VectorClock } from "../lattice/index.js";
import type { RunMeta, TcSlot } from "../protocol/index.js";
import { userKey } from "../state/index.js";
import type { ReadValue } from "../state/index.js";
import { CausalValues, readValue } from "./causal.js";
import { ABSENT, PinnedVersions, pinKey } from "./pinned.js";
import type { PinTableOptions } from "./pins.js";
import { forkConflict } from "./repeatable-read.js";
import type { RunSession, SessionEnv, SessionPolicy } from "./session.js";
import {
  MAX_SESSION_KEYS,
  clockFrom,
  depsFrom,
  depsRecord,
  joinDep,
  joinDeps,
  tooLarge,
  versionTag,
} from "./versions.js";
import type { DepRecord } from "./versions.js";

/** A read set entry: version tag (`-`: read as absent), pinning node, and a causal version's clock. */
type ReadEntry = TcSlot["r"][string];

/** What a transactional-causal run carries (`session.tc`). */
type TcMeta = TcSlot;

function tcFrom(meta: RunMeta): TcMeta {
  // Untrusted until checked here: it came from a peer.
  const v: unknown = meta.session.tc;
  if (v === undefined) return { p: pinKey(meta), r: {}, s: {} };
  const bad = (why: string): InvalidArgumentError => InvalidArgumentError.field("session.tc", why);
  if (typeof v !== "object" || v === null) throw bad("must be an object");
  const { p, r, s } = v as Partial<TcMeta>;
  if (typeof p !== "string" || p.length === 0 || p.length > 256) throw bad("p: a pin key");
  if (typeof r !== "object" || r === null || Array.isArray(r)) throw bad("r: a read set");
  const entries = Object.entries(r);
  if (entries.length > MAX_SESSION_KEYS) throw tooLarge("tc", entries.length);
  for (const [k, e] of entries) {
    const ok =
      Array.isArray(e) &&
      (e.length === 2 || e.length === 3) &&
      typeof e[0] === "string" &&
      typeof e[1] === "string";
    if (!ok) throw bad("r: entries are [tag, node, clock?]");
    if (e[2] !== undefined) clockFrom(e[2], `session.tc.r.${k}`);
  }
  depsFrom(s, "session.tc.s");
  return { p, r, s: s as DepRecord };
}

/** Versions of causal values this node saw lately, a few per key, for snapshot repair. */
class History {
  private readonly byKey = new Map<string, Lattice[]>();

  constructor(
    private readonly perKey = 4,
    private readonly maxKeys = 10_000,
  ) {}

  note(k: string, l: Lattice | undefined): void {
    if (l === undefined || l.kind !== "mcausal") return;
    const list = this.byKey.get(k) ?? [];
    if (list.some((h) => h === l || versionTag(h) === versionTag(l))) return;
    list.push(l);
    if (list.length > this.perKey) list.shift();
    this.byKey.delete(k);
    this.byKey.set(k, list);
    if (this.byKey.size > this.maxKeys) this.byKey.delete(this.byKey.keys().next().value as string);
  }

  /** Newest first. */
  of(k: string): Lattice[] {
    return [...(this.byKey.get(k) ?? [])].reverse();
  }
}

/**
 * Transactional causal consistency across the caches a run touches (HydroCache's MTCC, the
 * optimistic protocol with repair): every read of a run comes from one causal snapshot. A key
 * read before returns that exact version (pinned where it was read, as in repeatable-read). A
 * new key gets the first version, of the local cache's, storage's and this node's recent ones,
 * that is at least as new as the snapshot requires and depends on nothing newer than what the
 * run already read. When none fits, the run fails with `SNAPSHOT_CONFLICT` (retryable) and the
 * scheduler runs it again on a fresh snapshot.
 *
 * @example
 * ```ts
 * const node = await Node.start({ ...options, sessionPolicies: [transactionalCausal()] });
 * await cloud.callDag("timeline", inputs, { consistency: "transactional-causal" });
 * ```
 */
export class TransactionalCausalPolicy implements SessionPolicy {
  readonly level = "transactional-causal" as const;
  readonly pins: PinnedVersions;
  readonly values: CausalValues;
  readonly history = new History();
  /** Reads that had to fall back on a version other than the cache's, and aborts. */
  readonly counts = { repaired: 0, conflicts: 0 };

  constructor(
    readonly env: SessionEnv,
    options: PinTableOptions = {},
  ) {
    this.pins = new PinnedVersions(env, options);
    this.values = new CausalValues(env);
  }

  open(meta: RunMeta): RunSession {
    return new TcSession(this, meta, tcFrom(meta));
  }

  join(metas: RunMeta[]): RunMeta {
    const first = metas[0] as RunMeta;
    const out = tcFrom(first);
    const snap = depsFrom(out.s, "session.tc.s");
    for (const m of metas.slice(1)) {
      const tc = tcFrom(m);
      const theirs = depsFrom(tc.s, "session.tc.s");
      // The branches' reads must form one causal snapshot: one version per key, and no read of
      // one branch older than what the other's reads depend on. Otherwise the run starts again.
      for (const [k, e] of Object.entries(tc.r)) {
        const cur = out.r[k];
        if (cur === undefined) out.r[k] = e;
        else if (cur[0] !== e[0]) throw forkConflict(first, k);
      }
      for (const [reads, deps] of [
        [out.r, theirs],
        [tc.r, snap],
      ] as const) {
        for (const [k, e] of Object.entries(reads)) {
          const need = deps.get(k);
          if (need === undefined) continue;
          const have = e[2] === undefined ? undefined : clockFrom(e[2], k);
          if (e[0] === ABSENT || have === undefined || !have.dominates(need)) {
            throw forkConflict(first, k);
          }
        }
      }
      joinDeps(snap, theirs);
    }
    out.s = depsRecord(snap, "tc");
    return { ...first, session: { ...first.session, tc: out } };
  }

  handle(method: string, payload: unknown): unknown {
    return this.pins.handle(method, payload);
  }

  async close(): Promise<void> {
    this.pins.close();
  }
}

class TcSession implements RunSession {
  private readonly reads: Map<string, ReadEntry>;
  private readonly clocks = new Map<string, VectorClock>();
  private readonly snap: Map<string, VectorClock>;
  private readonly fetched = new Map<string, Lattice>();

  constructor(
    private readonly policy: TransactionalCausalPolicy,
    private readonly meta: RunMeta,
    private readonly tc: TcMeta,
  ) {
    this.reads = new Map(Object.entries(tc.r));
    for (const [k, e] of this.reads) if (e[2] !== undefined) this.clocks.set(k, clockFrom(e[2], k));
    this.snap = depsFrom(tc.s, "session.tc.s");
  }

  async get(key: unknown): Promise<ReadValue | undefined> {
    const l = await this.resolve(userKey(key));
    return l === undefined ? undefined : readValue(l);
  }

  async getLattice(key: unknown): Promise<Uint8Array | undefined> {
    const l = await this.resolve(userKey(key));
    return l === undefined ? undefined : encodeLattice(l);
  }

  private async resolve(k: string): Promise<Lattice | undefined> {
    const e = this.reads.get(k);
    if (e !== undefined) return this.policy.pins.reread(this.tc.p, this.meta, k, e, this.fetched);
    const { env, history } = this.policy;
    const need = this.snap.get(k);
    const local = await env.cache.get(k);
    if (this.fits(local, need)) return this.take(k, local);
    history.note(k, local);
    const fresh = await env.cache.fresh(k);
    history.note(k, fresh);
    if (this.fits(fresh, need)) return this.take(k, fresh);
    for (const h of history.of(k)) {
      if (this.fits(h, need)) {
        this.policy.counts.repaired++;
        return this.take(k, h);
      }
    }
    this.policy.counts.conflicts++;
    throw new SnapshotConflictError(
      `no version of ${k.slice(2)} fits the causal snapshot of what run ${this.meta.run} read`,
    );
  }

  /** At least as new as the snapshot needs, and depending on nothing newer than was read. */
  private fits(l: Lattice | undefined, need: VectorClock | undefined): boolean {
    if (l === undefined) return need === undefined;
    if (l.kind !== "mcausal") return true;
    if (need !== undefined && !l.clock.dominates(need)) return false;
    for (const [j, vc] of l.dependencies) {
      const r = this.reads.get(j);
      if (r === undefined) continue;
      const seen = this.clocks.get(j);
      if (r[0] === ABSENT || seen === undefined || !seen.dominates(vc)) return false;
    }
    return true;
  }

  private take(k: string, l: Lattice | undefined): Lattice | undefined {
    const { env, pins } = this.policy;
    if (this.reads.size >= MAX_SESSION_KEYS) throw tooLarge("tc", this.reads.size + 1);
    if (l === undefined) {
      this.reads.set(k, [ABSENT, env.nodeId]);
      return undefined;
    }
    pins.table.repin(this.tc.p, this.meta.deadline, k, l);
    this.record(k, l);
    return l;
  }

  private record(k: string, l: Lattice): void {
    const node = this.policy.env.nodeId;
    if (l.kind === "mcausal") {
      this.reads.set(k, [versionTag(l), node, l.clock.toJSON()]);
      this.clocks.set(k, l.clock);
      joinDep(this.snap, k, l.clock);
      joinDeps(this.snap, l.dependencies);
    } else this.reads.set(k, [versionTag(l), node]);
  }

  async put(key: unknown, value: Uint8Array): Promise<void> {
    if (!(value instanceof Uint8Array)) throw new InvalidArgumentError("value must be encoded");
    const k = userKey(key);
    const v = await this.policy.values.write(k, value, this.snap);
    // The run reads its own write from now on.
    this.policy.pins.table.repin(this.tc.p, this.meta.deadline, k, v);
    this.fetched.delete(k);
    this.record(k, v);
  }

  async merge(key: unknown, lattice: Uint8Array): Promise<void> {
    await this.policy.env.state.merge(key, lattice);
    this.forget(userKey(key));
  }

  async delete(key: unknown): Promise<void> {
    await this.policy.env.state.delete(key);
    this.forget(userKey(key));
  }

  private forget(k: string): void {
    this.reads.delete(k);
    this.clocks.delete(k);
    this.fetched.delete(k);
  }

  forward(): RunMeta {
    const tc: TcMeta = {
      p: this.tc.p,
      r: Object.fromEntries(this.reads),
      s: depsRecord(this.snap, "tc"),
    };
    return { ...this.meta, session: { ...this.meta.session, tc } };
  }

  async finish(): Promise<void> {
    this.policy.pins.finish(this.tc.p, this.meta, this.reads.values());
  }
}

/** The factory the composition root lists: `sessionPolicies: [transactionalCausal()]`. */
export function transactionalCausal(options: PinTableOptions = {}) {
  return (env: SessionEnv): TransactionalCausalPolicy =>
    new TransactionalCausalPolicy(env, options);
}

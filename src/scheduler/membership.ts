import type { HybridClock } from "../lattice/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { KEYS } from "../protocol/index.js";
import type { NodeInfo } from "../protocol/index.js";

/** Options of {@link Membership}. */
export interface MembershipOptions {
  /** A node whose heartbeat record has not changed for this long is removed. @default 2500 */
  expiryMs?: number;
  /** How often expiry is checked. @default 250 */
  checkEveryMs?: number;
  /** Observes the timestamps of heartbeats read, so this process's clock passes theirs. */
  clock?: HybridClock;
  /**
   * How often every `sys/node/*` record is re-read (one SCAN and one GET per node), so that a
   * lost notification or a storage restart cannot empty membership for good. @default 500
   */
  pollEveryMs?: number;
}

/** A live node as the scheduler sees it. */
export interface Member extends NodeInfo {
  /** Local time (ms, monotonic) its heartbeat record was last seen to change. */
  seenAt: number;
}

/**
 * The set of live nodes, read from heartbeats in storage. Change notifications make joins fast,
 * but liveness never rests on them alone: every record is also re-read every `pollEveryMs`.
 *
 * A node is dropped when its record has not changed for `expiryMs`, measured on this process's
 * monotonic clock, so clock skew between hosts cannot keep a dead node alive. Time during which
 * storage could not be read does not count: expiry compares `seenAt` with the start of the last
 * poll that succeeded, since a node cannot write its heartbeat into a stalled or restarting
 * store either. A stall or a restart shorter than `expiryMs` therefore drops no node, and an
 * outage of any length drops none until storage answers again. The record of an expired node is
 * deleted, unless it changed in the meantime (it is re-read first).
 *
 * @example
 * ```ts
 * const members = await Membership.open(store, { expiryMs: 2500 });
 * members.onLost((id) => console.log("lost", id));
 * members.list(); // live nodes
 * ```
 */
export class Membership {
  private readonly members = new Map<string, Member>();
  /** The timestamp of each member's record when it was last seen to change. */
  private readonly stamps = new Map<string, string>();
  private readonly expiring = new Set<string>();
  private readonly lostListeners: ((id: string) => void)[] = [];
  private readonly joinListeners: ((m: Member) => void)[] = [];
  private readonly expiryMs: number;
  private readonly clock: HybridClock | undefined;
  private readonly pollEveryMs: number;
  private sub: Subscription | undefined;
  private timers: NodeJS.Timeout[] = [];
  private polling: Promise<void> | undefined;
  /** Start (monotonic ms) of the last poll that read every record without error. */
  private healthyAt: number;
  private closed = false;

  private constructor(
    private readonly store: Store,
    options: MembershipOptions,
  ) {
    this.expiryMs = options.expiryMs ?? 2500;
    this.clock = options.clock;
    this.pollEveryMs = options.pollEveryMs ?? 500;
    this.healthyAt = performance.now();
  }

  static async open(store: Store, options: MembershipOptions = {}): Promise<Membership> {
    const m = new Membership(store, options);
    m.sub = await store.subscribe(KEYS.node, (e) => {
      if (e.kind === "put") void m.refresh(e.key);
      else if (e.kind === "delete") m.drop(e.key.slice(KEYS.node.length));
      else void m.poll();
    });
    await m.poll();
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      m.timers.push(t);
    };
    every(options.checkEveryMs ?? 250, () => m.expire());
    every(m.pollEveryMs, () => void m.poll());
    return m;
  }

  /** Live nodes. */
  list(): Member[] {
    return [...this.members.values()];
  }

  get(id: string): Member | undefined {
    return this.members.get(id);
  }

  onLost(fn: (id: string) => void): void {
    this.lostListeners.push(fn);
  }

  onJoin(fn: (m: Member) => void): void {
    this.joinListeners.push(fn);
  }

  /** Marks a node lost now (e.g. its connection dropped), without waiting for expiry. */
  markLost(id: string): void {
    this.drop(id);
  }

  /** Re-reads every node record; one poll at a time (a slow store must not pile them up). */
  private poll(): Promise<void> {
    this.polling ??= this.pollNow().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollNow(): Promise<void> {
    const started = performance.now();
    try {
      const keys: string[] = [];
      for await (const k of this.store.scan(KEYS.node)) keys.push(k);
      const records = await this.store.getMany(keys);
      records.forEach((l) => this.observe(l));
      this.healthyAt = Math.max(this.healthyAt, started);
    } catch {
      // Storage unavailable: keep the current view, and do not let the outage count towards
      // expiry (healthyAt stays put).
    }
  }

  private async refresh(key: string): Promise<void> {
    try {
      this.observe(await this.store.get(key));
    } catch {
      // The next poll reads it again.
    }
  }

  /** Takes in one node record; a record whose timestamp did not change is no sign of life. */
  private observe(l: unknown): void {
    if (this.closed || !(l instanceof LwwLattice)) return;
    this.clock?.observe(l.ts);
    let info: NodeInfo;
    try {
      info = l.value<NodeInfo>();
    } catch {
      return;
    }
    if (typeof info !== "object" || info === null || typeof info.id !== "string") return;
    const prev = this.members.get(info.id);
    if (prev !== undefined && prev.startedAt > info.startedAt) return;
    if (prev !== undefined && this.stamps.get(info.id) === l.ts) return;
    const m: Member = { ...info, seenAt: performance.now() };
    this.members.set(info.id, m);
    this.stamps.set(info.id, l.ts);
    if (prev === undefined) for (const f of this.joinListeners) f(m);
  }

  private expire(): void {
    for (const m of this.members.values()) {
      if (this.healthyAt - m.seenAt > this.expiryMs && !this.expiring.has(m.id)) {
        this.expiring.add(m.id);
        void this.expireOne(m).finally(() => this.expiring.delete(m.id));
      }
    }
  }

  /**
   * Drops a silent node and deletes its record, unless the record changed since it was last seen
   * (a heartbeat that arrived without a notification). A live node whose record is deleted by a
   * race here re-creates it at its next heartbeat.
   */
  private async expireOne(m: Member): Promise<void> {
    const key = KEYS.node + m.id;
    const stale = this.stamps.get(m.id);
    let current: unknown;
    try {
      current = await this.store.get(key);
    } catch {
      return; // No evidence either way; the next round decides.
    }
    if (this.closed || this.members.get(m.id) !== m) return;
    if (current instanceof LwwLattice && current.ts !== stale) {
      this.observe(current);
      return;
    }
    this.drop(m.id);
    if (current !== undefined) await this.store.delete(key).catch(() => undefined);
  }

  private drop(id: string): void {
    this.stamps.delete(id);
    if (!this.members.delete(id)) return;
    for (const f of this.lostListeners) f(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.sub?.close();
  }
}

/**
 * Writes a node's heartbeat to storage every `intervalMs`, each with fresh load figures. The
 * record changes every time (load, timestamp), which is what keeps the node alive in
 * {@link Membership}.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beats = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: HybridClock,
    private readonly info: () => NodeInfo,
    private readonly intervalMs = 500,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const info = { ...this.info(), beat: this.beats++ };
    await this.store.put(KEYS.node + info.id, LwwLattice.of(info, this.clock.now()));
  }

  /** Stops beating and removes the record so schedulers drop the node at once. */
  async stop(remove = true): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (remove) await this.store.delete(KEYS.node + this.info().id).catch(() => undefined);
  }
}

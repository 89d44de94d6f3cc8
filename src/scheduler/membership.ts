import type { HybridClock } from "../lattice/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { KEYS } from "./protocol.js";
import type { NodeInfo } from "./protocol.js";

/** Options of {@link Membership}. */
export interface MembershipOptions {
  /** A node whose heartbeat has not changed for this long is removed. @default 2500 */
  expiryMs?: number;
  /** How often expiry is checked. @default 250 */
  checkEveryMs?: number;
  /** Observes the timestamps of heartbeats read, so this process's clock passes theirs. */
  clock?: HybridClock;
}

/** A live node as the scheduler sees it. */
export interface Member extends NodeInfo {
  /** Local time (ms, monotonic) the last heartbeat arrived: clocks of other hosts are not used. */
  seenAt: number;
}

/**
 * The set of live nodes, read from heartbeats in storage. A node that stops heartbeating is
 * dropped after `expiryMs`, measured on this process's monotonic clock from the last change seen,
 * so clock skew between hosts cannot keep a dead node alive.
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
  private readonly lostListeners: ((id: string) => void)[] = [];
  private readonly joinListeners: ((m: Member) => void)[] = [];
  private readonly expiryMs: number;
  private readonly clock: HybridClock | undefined;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly store: Store,
    options: MembershipOptions,
  ) {
    this.expiryMs = options.expiryMs ?? 2500;
    this.clock = options.clock;
  }

  static async open(store: Store, options: MembershipOptions = {}): Promise<Membership> {
    const m = new Membership(store, options);
    m.sub = await store.subscribe(KEYS.node, (e) => {
      if (e.kind === "put") void m.refresh(e.key);
      else if (e.kind === "delete") m.drop(e.key.slice(KEYS.node.length));
      else void m.reload();
    });
    await m.reload();
    m.timer = setInterval(() => m.expire(), options.checkEveryMs ?? 250);
    m.timer.unref();
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

  private async reload(): Promise<void> {
    const keys: string[] = [];
    try {
      for await (const k of this.store.scan(KEYS.node)) keys.push(k);
      await Promise.all(keys.map((k) => this.refresh(k)));
    } catch {
      // Storage unavailable: keep the current view; the next event or reset reloads.
    }
  }

  private async refresh(key: string): Promise<void> {
    let info: NodeInfo | undefined;
    try {
      const l = await this.store.get(key);
      if (l?.kind === "lww") this.clock?.observe(l.ts);
      info = l === undefined ? undefined : (l as LwwLattice).value<NodeInfo>();
    } catch {
      return;
    }
    if (this.closed || info === undefined) return;
    const prev = this.members.get(info.id);
    if (prev !== undefined && prev.startedAt > info.startedAt) return;
    const m: Member = { ...info, seenAt: performance.now() };
    this.members.set(info.id, m);
    if (prev === undefined) for (const f of this.joinListeners) f(m);
  }

  private expire(): void {
    const now = performance.now();
    for (const m of this.members.values()) if (now - m.seenAt > this.expiryMs) this.drop(m.id);
  }

  private drop(id: string): void {
    if (!this.members.delete(id)) return;
    for (const f of this.lostListeners) f(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
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

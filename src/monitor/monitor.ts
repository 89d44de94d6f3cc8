import { ensureError } from "../errors/index.js";
import type { HybridClock } from "../lattice/index.js";
import { readStatsRecords, windowQueueMs } from "../stats/index.js";
import type { AgedRecord } from "../stats/index.js";
import type { Store } from "../storage/index.js";
import { Lease } from "./lease.js";
import { resolveMonitorOptions } from "./options.js";
import type { MonitorOptions, ResolvedMonitorOptions } from "./options.js";
import { executorTarget } from "./policy.js";
import type { NodeLoad, NodeMemory } from "./policy.js";

/** Changes a node's executors (a request to it, or a call when it is this process's own). */
export type ResizeNode = (node: { id: string; addr: string }, executors: number) => Promise<void>;

/** One action the monitor took. */
export interface MonitorDecision {
  /** Epoch ms. */
  at: number;
  kind: "executors" | "nodes";
  /** The node resized (executors), or the provider's name (nodes). */
  target: string;
  from: number;
  to: number;
  why: string;
  /** What the decision was made on (executors: the node's load; nodes: the cluster's). */
  inputs?: Record<string, number>;
}

/** What {@link Monitor.start} needs. */
export interface MonitorDeps {
  /** This process's id: the lease holder's name. */
  id: string;
  store: Store;
  clock: HybridClock;
  resize: ResizeNode;
  /** Receives failures (a resize refused, a provider error); the monitor never throws. */
  log?: (message: string) => void;
}

/**
 * A record that has not changed for this long (ms, by this process's clock) says nothing about a
 * node's present load: its process stopped publishing.
 */
const STALE_MS = 3000;

/**
 * The autoscaler. Every `intervalMs` each monitor tries to hold the lease in the store; the one
 * that holds it reads every node's statistics (`sys/stats/*`), resizes nodes' executors by the
 * {@link executorTarget} policy, and, with `nodes` options, adds a node through the provider when
 * every node is at `maxExecutors` and still hot, and removes one after the cluster stays idle.
 * Any number of schedulers may run a monitor: only the lease holder acts.
 *
 * @example
 * ```ts
 * const m = Monitor.start({ id, store, clock, resize }, { maxExecutors: 64 });
 * m.acting; m.decisions; await m.close();
 * ```
 */
export class Monitor {
  private readonly o: ResolvedMonitorOptions;
  private readonly lease: Lease;
  private readonly memory = new Map<string, NodeMemory>();
  /**
   * Each process's record as last seen (its own `at`, compared only with itself) and when it was
   * seen to change, by this process's monotonic clock. Liveness is judged by that, never by
   * comparing another host's wall clock with this one's: a node whose clock lags is still live,
   * and one whose clock runs ahead still goes stale once it stops publishing.
   */
  private readonly changed = new Map<string, { at: number; seen: number }>();
  /** Nodes with a resize in flight: no second one until it settles. */
  private readonly resizing = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private closed = false;
  private saturatedSince: number | undefined;
  private idleSince: number | undefined;
  private lastNodeChange = -Infinity;
  private readonly listeners: ((d: MonitorDecision) => void)[] = [];
  /** The latest decisions, oldest first (at most 100). */
  readonly decisions: MonitorDecision[] = [];
  /** Rounds run, rounds this monitor held the lease in, resizes asked, and failures. */
  readonly counts = { rounds: 0, acting: 0, resizes: 0, nodeChanges: 0, errors: 0 };

  private constructor(
    private readonly deps: MonitorDeps,
    options: MonitorOptions,
  ) {
    this.o = resolveMonitorOptions(options);
    this.lease = new Lease(deps.store, deps.clock, deps.id, this.o.leaseMs);
  }

  /** Starts deciding every `intervalMs`. Throws `INVALID_ARGUMENT` for a bad option. */
  static start(deps: MonitorDeps, options: MonitorOptions = {}): Monitor {
    const m = new Monitor(deps, options);
    m.timer = setInterval(() => void m.tick(), m.o.intervalMs);
    m.timer.unref();
    void m.tick();
    return m;
  }

  /** The options in force, defaults filled in. */
  get options(): ResolvedMonitorOptions {
    return this.o;
  }

  /** True while this monitor holds the lease (and so is the one acting). */
  get acting(): boolean {
    return this.lease.held;
  }

  /** Called with every decision as it is taken. */
  onDecision(fn: (d: MonitorDecision) => void): void {
    this.listeners.push(fn);
  }

  /** Runs one round now (one at a time); resolves when it is done. */
  tick(): Promise<void> {
    this.round ??= this.decide().finally(() => (this.round = undefined));
    return this.round;
  }

  private async decide(): Promise<void> {
    if (this.closed) return;
    this.counts.rounds++;
    if (!(await this.lease.hold()) || this.closed) return;
    this.counts.acting++;
    let records: AgedRecord[];
    try {
      records = await readStatsRecords(this.deps.store);
    } catch (e) {
      this.fail(`reading statistics: ${ensureError(e).message}`);
      return;
    }
    const now = performance.now();
    const nodes = this.live(records, now);
    let saturated = nodes.length > 0;
    let busy = 0;
    let capacity = 0;
    for (const { rec } of nodes) {
      const n = rec.node!;
      const load: NodeLoad = {
        executors: n.executors,
        inflight: n.inflight,
        utilisation: n.utilisation,
        queueMs: windowQueueMs(rec.exec),
      };
      busy += n.utilisation * n.executors;
      capacity += n.executors;
      const hot =
        load.utilisation >= this.o.scaleUpUtilisation || load.queueMs >= this.o.scaleUpQueueMs;
      if (!(hot && n.executors >= this.o.maxExecutors)) saturated = false;
      const mem = this.memory.get(rec.id) ?? {};
      this.memory.set(rec.id, mem);
      if (this.resizing.has(rec.id)) continue;
      const to = executorTarget(load, mem, this.o, now);
      if (to === undefined || to === n.executors) continue;
      const why =
        to > n.executors
          ? `${n.inflight} calls, utilisation ${load.utilisation.toFixed(2)}, queue p50 ${load.queueMs.toFixed(1)} ms`
          : `fewer executors sufficed for ${this.o.idleGraceMs} ms`;
      const inputs = { ...load, queued: n.inflight };
      this.resizeNode(rec.id, n.addr, n.executors, to, why, inputs);
    }
    for (const id of this.memory.keys()) {
      if (!nodes.some((r) => r.rec.id === id)) this.memory.delete(id);
    }
    await this.scaleNodes(saturated, capacity > 0 ? busy / capacity : 0, now);
  }

  /** The node records that changed within {@link STALE_MS}; forgets processes gone from the store. */
  private live(records: AgedRecord[], now: number): AgedRecord[] {
    const present = new Set<string>();
    const out: AgedRecord[] = [];
    for (const r of records) {
      present.add(r.rec.id);
      const last = this.changed.get(r.rec.id);
      if (last === undefined || last.at !== r.rec.at) {
        this.changed.set(r.rec.id, { at: r.rec.at, seen: now });
      }
      const seen = this.changed.get(r.rec.id)?.seen ?? now;
      if (r.rec.node !== undefined && now - seen <= STALE_MS) out.push(r);
    }
    for (const id of this.changed.keys()) if (!present.has(id)) this.changed.delete(id);
    return out;
  }

  private resizeNode(
    id: string,
    addr: string,
    from: number,
    to: number,
    why: string,
    inputs: Record<string, number>,
  ): void {
    this.resizing.add(id);
    this.counts.resizes++;
    this.note({ at: Date.now(), kind: "executors", target: id, from, to, why, inputs });
    this.deps
      .resize({ id, addr }, to)
      .catch((e: unknown) => this.fail(`resizing ${id} to ${to}: ${ensureError(e).message}`))
      .finally(() => this.resizing.delete(id));
  }

  private async scaleNodes(saturated: boolean, utilisation: number, now: number): Promise<void> {
    const n = this.o.nodes;
    if (n === undefined) return;
    this.saturatedSince = saturated ? (this.saturatedSince ?? now) : undefined;
    const idle = utilisation < this.o.scaleDownUtilisation;
    this.idleSince = idle ? (this.idleSince ?? now) : undefined;
    if (now - this.lastNodeChange < n.cooldownMs) return;
    let count: number;
    try {
      count = await n.provider.current();
    } catch (e) {
      this.fail(`${n.provider.name} provider: ${ensureError(e).message}`);
      return;
    }
    let to = count;
    let why = "";
    if (count < n.minNodes) [to, why] = [n.minNodes, "below minNodes"];
    else if (
      this.saturatedSince !== undefined &&
      now - this.saturatedSince >= n.saturatedForMs &&
      count < n.maxNodes
    ) {
      [to, why] = [count + 1, `every node at maxExecutors and hot for ${n.saturatedForMs} ms`];
    } else if (
      this.idleSince !== undefined &&
      now - this.idleSince >= n.idleGraceMs &&
      count > n.minNodes
    ) {
      [to, why] = [
        count - 1,
        `utilisation under ${this.o.scaleDownUtilisation} for ${n.idleGraceMs} ms`,
      ];
    }
    if (to === count) return;
    const inputs: Record<string, number> = { nodes: count, utilisation };
    if (this.saturatedSince !== undefined) inputs["saturatedMs"] = now - this.saturatedSince;
    if (this.idleSince !== undefined) inputs["idleMs"] = now - this.idleSince;
    this.lastNodeChange = now;
    this.saturatedSince = undefined;
    this.idleSince = undefined;
    this.counts.nodeChanges++;
    this.note({
      at: Date.now(),
      kind: "nodes",
      target: n.provider.name,
      from: count,
      to,
      why,
      inputs,
    });
    try {
      await n.provider.scale(to);
    } catch (e) {
      this.fail(`${n.provider.name} provider scaling to ${to}: ${ensureError(e).message}`);
    }
  }

  private note(d: MonitorDecision): void {
    this.decisions.push(d);
    if (this.decisions.length > 100) this.decisions.shift();
    for (const f of this.listeners) {
      try {
        f(d);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  private fail(msg: string): void {
    this.counts.errors++;
    this.deps.log?.(`monitor: ${msg}`);
  }

  /** Stops deciding, gives the lease up, and closes the node provider (stopping its nodes). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.round;
    await this.lease.release();
    await this.o.nodes?.provider.close();
  }
}

import { NoResourcesError } from "../errors/index.js";
import type { Member } from "./membership.js";
import { nameMap } from "../protocol/index.js";

/** How functions are placed on nodes (see {@link Placer}). */
export const PLACEMENT_POLICIES = ["locality", "spread"] as const;

/** How functions are placed on nodes. */
export type PlacementPolicy = (typeof PLACEMENT_POLICIES)[number];

/** One function to place. */
export interface PlacementRequest {
  fn: string;
  /** User keys its arguments reference (`ref("k")` names `k`), as heartbeats list cached keys. */
  refs: readonly string[];
  /** The function feeding it, whose node it may share to save a network hop. */
  upstream?: string;
}

/**
 * Chooses a node for each function of a call or DAG.
 *
 * `locality` (default): a function whose arguments reference stored keys goes to the node caching
 * the most bytes of them, unless that node is much busier than the least loaded one; otherwise it
 * follows its upstream function (results stay in-process) unless that node is busier by a full
 * executor's worth of queue; otherwise the less loaded of two random nodes (power of two choices).
 * `spread`: functions of one run go to different nodes, round robin, for fault isolation tests
 * and demonstrations.
 *
 * Cached bytes come from each node's heartbeat (`NodeInfo.cached`), so every scheduler, a
 * restarted one included, sees data a node cached for any reason (a reference, or a function's
 * `ctx.get`). Keys this scheduler sent to a node since count for one byte until the heartbeat
 * says more.
 *
 * Load is the node's last heartbeat (queued + busy per executor) plus what this scheduler has
 * sent it since and not seen finish, so a burst between heartbeats still spreads.
 *
 * `pins` (function name to node id) overrides all of this while the pinned node is live and not
 * excluded: for benchmarks and tests that need a DAG split across given nodes.
 *
 * @example
 * ```ts
 * const placer = new Placer(() => membership.list());
 * const where = placer.place([{ fn: "inc", refs: [] }, { fn: "square", refs: [], upstream: "inc" }]);
 * ```
 */
export class Placer {
  private readonly outstanding = new Map<string, number>();
  /** Keys recently sent to a node: it will cache them before its heartbeat says so. */
  private readonly recent = new Map<string, string>();
  /** A lookup per heartbeat's list, built once: members are replaced on every heartbeat. */
  private readonly lookups = new WeakMap<readonly [string, number][], Map<string, number>>();
  private rr = 0;

  constructor(
    private readonly members: () => Member[],
    private readonly policy: PlacementPolicy = "locality",
    private readonly recentLimit = 10_000,
    private readonly pins: Readonly<Record<string, string>> = {},
  ) {}

  /** Places every request; throws `NO_RESOURCES` when no node is live. */
  place(reqs: readonly PlacementRequest[], exclude?: ReadonlySet<string>): Record<string, Member> {
    let nodes = this.members().filter((m) => m.executors > 0);
    if (exclude !== undefined && nodes.some((m) => !exclude.has(m.id))) {
      nodes = nodes.filter((m) => !exclude.has(m.id));
    }
    if (nodes.length === 0) throw new NoResourcesError("no live node with executors to run on");
    const out = nameMap<Member>();
    if (this.policy === "spread") {
      for (const r of reqs)
        out[r.fn] = this.pinned(nodes, r.fn) ?? (nodes[this.rr++ % nodes.length] as Member);
      return out;
    }
    for (const r of reqs) {
      const chosen =
        this.pinned(nodes, r.fn) ??
        this.byLocality(nodes, r.refs) ??
        this.byRoom(nodes, r.refs) ??
        (r.upstream !== undefined ? this.byAffinity(nodes, out[r.upstream]) : undefined) ??
        this.twoChoices(nodes);
      out[r.fn] = chosen;
      for (const k of r.refs) this.remember(k, chosen.id);
    }
    return out;
  }

  /** Load per executor: the node's queue and running calls, plus ours in flight to it. */
  load(m: Member): number {
    return (m.queued + m.busy + (this.outstanding.get(m.id) ?? 0)) / m.executors;
  }

  /** Counts a call sent to a node (until {@link done}). */
  sent(node: string): void {
    this.outstanding.set(node, (this.outstanding.get(node) ?? 0) + 1);
  }

  done(node: string): void {
    const n = (this.outstanding.get(node) ?? 0) - 1;
    if (n <= 0) this.outstanding.delete(node);
    else this.outstanding.set(node, n);
  }

  forget(node: string): void {
    this.outstanding.delete(node);
  }

  private byLocality(nodes: Member[], refs: readonly string[]): Member | undefined {
    if (refs.length === 0) return undefined;
    let best: Member | undefined;
    let bestBytes = 0;
    const minLoad = Math.min(...nodes.map((n) => this.load(n)));
    for (const n of nodes) {
      if (this.load(n) > minLoad + 4) continue;
      const cached = this.lookup(n.cached);
      let bytes = 0;
      for (const k of refs) {
        bytes += cached.get(k) ?? (this.recent.get(k) === n.id ? 1 : 0);
      }
      if (bytes > bestBytes) {
        best = n;
        bestBytes = bytes;
      }
    }
    return best;
  }

  /**
   * For referenced keys no node caches: the least loaded node holding the fewest cached bytes
   * (known from heartbeats, plus keys sent its way since). Keys read on every run then spread
   * evenly over the caches, rather than piling up on one node whose cache they would churn.
   */
  private byRoom(nodes: Member[], refs: readonly string[]): Member | undefined {
    if (refs.length === 0) return undefined;
    const minLoad = Math.min(...nodes.map((n) => this.load(n)));
    const candidates = nodes.filter((n) => this.load(n) <= minLoad + 1);
    // Keys sent to a node that its last heartbeat did not list yet, by node.
    const fresh = new Map<string, number>();
    const ids = new Map(candidates.map((n) => [n.id, this.lookup(n.cached)]));
    for (const [k, id] of this.recent) {
      if (ids.get(id)?.has(k) === false) fresh.set(id, (fresh.get(id) ?? 0) + 1);
    }
    const bytes = new Map<string, number>();
    let all = 0;
    let keys = 0;
    for (const [id, cached] of ids) {
      let b = 0;
      for (const x of cached.values()) b += x;
      bytes.set(id, b);
      all += b;
      keys += cached.size;
    }
    // A key sent since the last heartbeat counts as much as the average cached one.
    const avg = keys > 0 ? all / keys : 1;
    let best: Member | undefined;
    let least = Infinity;
    for (const n of candidates) {
      const total = (bytes.get(n.id) ?? 0) + (fresh.get(n.id) ?? 0) * avg;
      if (total < least) {
        least = total;
        best = n;
      }
    }
    return best;
  }

  private pinned(nodes: Member[], fn: string): Member | undefined {
    const id = Object.hasOwn(this.pins, fn) ? this.pins[fn] : undefined;
    return id === undefined ? undefined : nodes.find((n) => n.id === id);
  }

  private lookup(list: readonly [string, number][]): Map<string, number> {
    let m = this.lookups.get(list);
    if (m === undefined) {
      m = new Map(list);
      this.lookups.set(list, m);
    }
    return m;
  }

  private byAffinity(nodes: Member[], up: Member | undefined): Member | undefined {
    if (up === undefined || !nodes.includes(up)) return undefined;
    const minLoad = Math.min(...nodes.map((n) => this.load(n)));
    return this.load(up) <= minLoad + 1 ? up : undefined;
  }

  private twoChoices(nodes: Member[]): Member {
    const i = Math.floor(Math.random() * nodes.length);
    // Two distinct candidates (when there are two): a second look at the same node tells nothing.
    const j =
      nodes.length < 2
        ? i
        : (i + 1 + Math.floor(Math.random() * (nodes.length - 1))) % nodes.length;
    const a = nodes[i] as Member;
    const b = nodes[j] as Member;
    return this.load(a) <= this.load(b) ? a : b;
  }

  private remember(key: string, node: string): void {
    this.recent.delete(key);
    this.recent.set(key, node);
    if (this.recent.size > this.recentLimit) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}

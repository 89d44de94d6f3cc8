import type { Membership, RecentRuns, Registry } from "../scheduler/index.js";
import type { FinishedRun, SecondStats } from "../scheduler/index.js";
import type { FunctionVersion } from "../scheduler/index.js";
import type { ClusterStats } from "../stats/index.js";
import type { Store } from "../storage/index.js";
import { listKeys } from "./views.js";
import type { FunctionDetail, KeyPage, KeyQuery, LogLine, ScheduleView } from "./views.js";

/**
 * A function's figures. The names follow the store-backed cluster statistics, so a source built
 * on them can fill the same fields; `null` where this source has no figure.
 */
export interface FunctionView {
  name: string;
  calls: number;
  errors: number;
  callsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  queueMsP50: number | null;
  /** Runs of DAGs it was a stage of (calls above count its own calls only). */
  inDags: number;
  /** Nodes it ran on recently (from placement), and the executors those nodes have. */
  nodes: string[];
  executors: number;
}

/** A node's figures (from its heartbeat). */
export interface NodeView {
  id: string;
  addr: string;
  executors: number;
  busy: number;
  queued: number;
  /** busy / executors. */
  utilisation: number;
  cacheHitRate: number | null;
  cacheBytes: number;
  cacheKeys: number;
  startedAt: number;
}

/** Everything the dashboard page shows, as its JSON endpoint serves it. */
export interface DashboardState {
  /** Epoch ms the state was read. */
  at: number;
  nodes: NodeView[];
  functions: FunctionView[];
  dags: {
    name: string;
    calls: number;
    errors: number;
    callsPerSec: number;
    p50Ms: number | null;
  }[];
  /** Calls per second and latency of every run, oldest first (for the charts). */
  series: SecondStats[];
  /** Recent runs, newest first, with their placement. */
  runs: FinishedRun[];
  /** Recent failed runs, newest first. */
  errors: FinishedRun[];
}

/** Where the dashboard reads what it shows. */
export interface DashboardSource {
  state(): Promise<DashboardState>;
  /** One page of state keys under a prefix (bounded: see {@link listKeys}). */
  keys(q: KeyQuery): Promise<KeyPage>;
  schedules(): Promise<ScheduleView[]>;
  functions(): Promise<FunctionDetail[]>;
  /** A run's captured log lines, oldest first; none until log capture is wired in. */
  logs(runId: string): Promise<LogLine[]>;
}

/** What {@link LocalDashboardSource} reads. */
export interface LocalSourceParts {
  membership: Pick<Membership, "list">;
  registry: Pick<Registry, "listFunctions" | "listDags">;
  /** This scheduler's dispatcher's memory of finished runs. */
  recent: RecentRuns;
  /**
   * The cluster-wide statistics every process publishes to the store. When given, the figures
   * per function, DAG and node are the whole cluster's (with several schedulers, each scheduler's
   * dashboard shows the same numbers); the charts and the run lists stay this scheduler's own.
   * A failed read falls back to this scheduler's own figures.
   */
  stats?: () => Promise<ClusterStats>;
  /** Where the state view lists keys. Without it the view is empty. */
  store?: Pick<Store, "scan" | "scanStep" | "getMany">;
  /** The schedules with their ticks. @default none */
  schedules?: () => Promise<ScheduleView[]>;
  /** A function's recent versions. @default none */
  versions?: (fn: string) => Promise<FunctionVersion[]>;
  /** A run's log lines (the node-side log buffers). @default none: `[]` */
  logs?: (runId: string) => Promise<LogLine[]>;
}

const RUNS_SHOWN = 30;
/** Functions the functions view lists (each costs a read of its history). */
const FUNCTIONS_SHOWN = 200;

/** A name the cluster's statistics have no record of yet. */
const NO_CALLS = {
  calls: 0,
  errors: 0,
  inDags: 0,
  callsPerSec: 0,
  p50Ms: null,
  p99Ms: null,
  queueMsP50: null,
} as const;

/**
 * The dashboard's view from one scheduler: nodes from heartbeats, the registry's functions and
 * DAGs, and the runs this scheduler dispatched. With several schedulers each shows its own runs
 * and charts; given `stats`, the figures per function, DAG and node are cluster-wide.
 *
 * @example
 * ```ts
 * const source = new LocalDashboardSource({
 *   membership, registry, recent: dispatcher.recent, stats: () => readClusterStats(store),
 * });
 * const state = await source.state();
 * ```
 */
export class LocalDashboardSource implements DashboardSource {
  constructor(private readonly parts: LocalSourceParts) {}

  async keys(q: KeyQuery): Promise<KeyPage> {
    const { store } = this.parts;
    if (store === undefined) return { prefix: q.prefix, keys: [], next: null, capped: false };
    return listKeys(store, q);
  }

  async schedules(): Promise<ScheduleView[]> {
    return (await this.parts.schedules?.()) ?? [];
  }

  async functions(): Promise<FunctionDetail[]> {
    const names = (await this.parts.registry.listFunctions()).slice(0, FUNCTIONS_SHOWN);
    const versions = this.parts.versions;
    return Promise.all(
      names.map(async (name) => ({ name, versions: (await versions?.(name)) ?? [] })),
    );
  }

  async logs(runId: string): Promise<LogLine[]> {
    return (await this.parts.logs?.(runId)) ?? [];
  }

  async state(): Promise<DashboardState> {
    const { membership, registry, recent } = this.parts;
    const [fnNames, dagNames, cluster] = await Promise.all([
      registry.listFunctions(),
      registry.listDags(),
      this.parts.stats?.().catch(() => undefined),
    ]);
    const members = membership.list();
    const nodes: NodeView[] = members.map((m) => ({
      id: m.id,
      addr: m.addr,
      executors: m.executors,
      busy: m.busy,
      queued: m.queued,
      utilisation:
        cluster?.nodes[m.id]?.utilisation ?? (m.executors > 0 ? m.busy / m.executors : 0),
      cacheHitRate: cluster?.nodes[m.id]?.cacheHitRate ?? null,
      cacheBytes: m.cached.reduce((s, [, b]) => s + b, 0),
      cacheKeys: m.cached.length,
      startedAt: m.startedAt,
    }));
    const runs = recent.runs();
    const byName = new Map(recent.names().map((n) => [n.name, n]));
    // Which nodes each function ran on, over the runs remembered (calls and DAG stages alike).
    const ranOn = new Map<string, Set<string>>();
    for (const r of runs) {
      for (const [fn, node] of Object.entries(r.placed)) {
        const set = ranOn.get(fn) ?? new Set<string>();
        set.add(node);
        ranOn.set(fn, set);
      }
    }
    const executorsOf = new Map(members.map((m) => [m.id, m.executors]));
    const functions: FunctionView[] = fnNames.map((name) => {
      const s = byName.get(name);
      const mine = s?.kind === "call" ? s : undefined;
      const on = [...(ranOn.get(name) ?? [])].sort();
      // Cluster-wide figures when the store has them, else this scheduler's own.
      // A read that worked is the only source: mixing in this scheduler's own counts for names
      // the store lacks would make counts of one row come from two places.
      const c = cluster === undefined ? undefined : (cluster.functions[name] ?? NO_CALLS);
      // Without the store's figures: this scheduler's runs, calls counting stages as the nodes do.
      const stages = recent.stageRuns(name);
      return {
        name,
        calls: c?.calls ?? (mine?.calls ?? 0) + stages,
        errors: c?.errors ?? mine?.errors ?? 0,
        callsPerSec: c?.callsPerSec ?? mine?.callsPerSec ?? 0,
        p50Ms: c?.p50Ms ?? mine?.p50Ms ?? null,
        p99Ms: c?.p99Ms ?? mine?.p99Ms ?? null,
        queueMsP50: c?.queueMsP50 ?? null,
        inDags: c?.inDags ?? stages,
        nodes: on,
        executors: on.reduce((sum, id) => sum + (executorsOf.get(id) ?? 0), 0),
      };
    });
    const dags = dagNames.map((name) => {
      const s = byName.get(name);
      const mine = s?.kind === "dag" ? s : undefined;
      const c = cluster === undefined ? undefined : (cluster.runs[name] ?? NO_CALLS);
      // Without the store's figures: this scheduler's runs, calls counting stages as the nodes do.
      const stages = recent.stageRuns(name);
      return {
        name,
        calls: c?.calls ?? (mine?.calls ?? 0) + stages,
        errors: c?.errors ?? mine?.errors ?? 0,
        callsPerSec: c?.callsPerSec ?? mine?.callsPerSec ?? 0,
        p50Ms: c?.p50Ms ?? mine?.p50Ms ?? null,
      };
    });
    return {
      at: Date.now(),
      nodes,
      functions,
      dags,
      series: recent.series(),
      runs: runs.slice(0, RUNS_SHOWN),
      errors: recent.errors().slice(0, RUNS_SHOWN),
    };
  }
}

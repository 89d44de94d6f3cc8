/**
 * The workload of the transaction fault test, as Stratus functions and a driver: writer lanes
 * whose requests each write one tag to a whole group of keys and increment that request's own
 * counter, reader lanes that read whole groups, every call retried with the same request id
 * after an error (as the SDK does for read-atomic calls). The driver feeds a {@link TxnChecker}.
 *
 * The write is a DAG of two functions, so that a run spans nodes: `txf_w1` increments the counter
 * and writes the first half of the group; `txf_w2` writes the rest, and just before the last key
 * asks an HTTP "gate" (run by the test) whether to go on: the gate is where a test holds a run or
 * times a SIGKILL of the node it runs on. Under `lww` the writes go straight to storage, so a
 * kill there leaves half a group written and a re-run increments the counter again; under
 * `read-atomic` they are buffered until the sink's commit, which comes right after the gate.
 */
import { InvalidArgumentError } from "../../src/errors/index.js";
import type { FunctionContext } from "../../src/function/index.js";
import type { Consistency } from "../../src/protocol/index.js";
import { lattices } from "../../src/lattice/index.js";
import { TxnChecker } from "./checker.js";
import { SharedTally } from "./shared.js";
import { clientWrite } from "./client-writer.js";
import type { ClientWriterCloud } from "./client-writer.js";
import type { TagValue } from "./checker.js";

/** What the driver needs of a client (a `Stratus`). */
export interface TxnCheckCloud extends ClientWriterCloud {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  register(name: string, fn: (ctx: FunctionContext, ...args: any[]) => unknown): Promise<unknown>;
  registerDag(
    name: string,
    spec: { functions: string[]; edges: [string, string][] },
  ): Promise<unknown>;
  callDag(
    name: string,
    inputs: Record<string, unknown[]>,
    options: { consistency: Consistency; requestId: string; retries: number; timeoutMs: number },
  ): Promise<unknown>;
}

/** DAG names. */
export const TXF_WRITE = "txf_write";
export const TXF_READ = "txf_read";
/** A group read by two branches of a fork (src → first half, second half → join). */
export const TXF_READ_FORK = "txf_read_fork";
/** A group read by two sources (first half, second half → join). */
export const TXF_READ_SOURCES = "txf_read_sources";
/** A shared-counter increment and a shared-set add, each in one branch of a fork. */
export const TXF_MERGE_FORK = "txf_merge_fork";

interface Up {
  ns: string;
  g: string;
  keys: number;
  tag?: string;
  gate?: string;
  seen?: (string | null)[];
  /** Also merge into the shared counter and set (every writer of every kind does). */
  shared?: boolean;
  /** Which half of the group a branch reads (0: first, 1: second). */
  half?: 0 | 1;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (ctx: FunctionContext, ...args: any[]) => unknown;

// The functions ship as source: each is self-contained (no free variables), hence the repeats.
export const TXF_CODE: Readonly<Record<string, Fn>> = {
  txf_w1: async (ctx: FunctionContext, up: Up) => {
    await ctx.merge(`${up.ns}/n/${up.tag}`, ctx.lattices.counter(1));
    if (up.shared === true) {
      await ctx.merge(`${up.ns}/shared/c`, ctx.lattices.counter(1));
      await ctx.merge(`${up.ns}/shared/s`, ctx.lattices.set([up.tag]));
    }
    const half = Math.floor(up.keys / 2);
    for (let i = 0; i < half; i++) await ctx.put(`${up.ns}/${up.g}/k${i}`, up.tag);
    return up;
  },
  txf_w2: async (ctx: FunctionContext, up: Up) => {
    const half = Math.floor(up.keys / 2);
    for (let i = half; i < up.keys - 1; i++) await ctx.put(`${up.ns}/${up.g}/k${i}`, up.tag);
    if (up.gate !== undefined && up.gate !== "") {
      // process.pid is the node's: executors are threads of it. A refused or cut connection
      // (the gate's test ending) must not fail the write.
      const q = `tag=${encodeURIComponent(String(up.tag))}&pid=${process.pid}`;
      await fetch(`${up.gate}?${q}`).then(
        (r) => r.text(),
        () => "",
      );
    }
    await ctx.put(`${up.ns}/${up.g}/k${up.keys - 1}`, up.tag);
    return up.tag;
  },
  txf_r1: async (ctx: FunctionContext, up: Up) => {
    const seen: (string | null)[] = [];
    const half = Math.floor(up.keys / 2);
    for (let i = 0; i < half; i++) seen.push((await ctx.get(`${up.ns}/${up.g}/k${i}`)) ?? null);
    return { ...up, seen };
  },
  txf_r2: async (ctx: FunctionContext, up: Up) => {
    const seen = (up.seen ?? []).slice();
    for (let i = seen.length; i < up.keys; i++) {
      seen.push((await ctx.get(`${up.ns}/${up.g}/k${i}`)) ?? null);
    }
    return seen;
  },
  txf_rf_src: (_ctx: FunctionContext, up: Up) => up,
  /** Reads one half of the group: the first (`half` 0) or the second. */
  txf_rf_half0: async (ctx: FunctionContext, up: Up) => {
    const half = Math.floor(up.keys / 2);
    const seen: (string | null)[] = [];
    for (let i = 0; i < half; i++) seen.push((await ctx.get(`${up.ns}/${up.g}/k${i}`)) ?? null);
    return seen;
  },
  txf_rf_half1: async (ctx: FunctionContext, up: Up) => {
    const half = Math.floor(up.keys / 2);
    const seen: (string | null)[] = [];
    for (let i = half; i < up.keys; i++) {
      seen.push((await ctx.get(`${up.ns}/${up.g}/k${i}`)) ?? null);
    }
    return seen;
  },
  txf_rf_join: (_ctx: FunctionContext, a: (string | null)[], b: (string | null)[]) => [...a, ...b],
  txf_mf_src: (_ctx: FunctionContext, up: Up) => up,
  txf_mf_counter: async (ctx: FunctionContext, up: Up) => {
    await ctx.merge(`${up.ns}/shared/c`, ctx.lattices.counter(1));
    return up.tag;
  },
  txf_mf_set: async (ctx: FunctionContext, up: Up) => {
    await ctx.merge(`${up.ns}/shared/s`, ctx.lattices.set([up.tag]));
    return up.tag;
  },
  txf_mf_join: (_ctx: FunctionContext, a: string, b: string) => (a === b ? a : null),
};

/** Registers the functions and the two DAGs. */
export async function registerTxnCheck(cloud: TxnCheckCloud): Promise<void> {
  for (const [name, fn] of Object.entries(TXF_CODE)) await cloud.register(name, fn);
  await cloud.registerDag(TXF_WRITE, {
    functions: ["txf_w1", "txf_w2"],
    edges: [["txf_w1", "txf_w2"]],
  });
  await cloud.registerDag(TXF_READ, {
    functions: ["txf_r1", "txf_r2"],
    edges: [["txf_r1", "txf_r2"]],
  });
  await cloud.registerDag(TXF_READ_FORK, {
    functions: ["txf_rf_src", "txf_rf_half0", "txf_rf_half1", "txf_rf_join"],
    edges: [
      ["txf_rf_src", "txf_rf_half0"],
      ["txf_rf_src", "txf_rf_half1"],
      ["txf_rf_half0", "txf_rf_join"],
      ["txf_rf_half1", "txf_rf_join"],
    ],
  });
  await cloud.registerDag(TXF_READ_SOURCES, {
    functions: ["txf_rf_half0", "txf_rf_half1", "txf_rf_join"],
    edges: [
      ["txf_rf_half0", "txf_rf_join"],
      ["txf_rf_half1", "txf_rf_join"],
    ],
  });
  await cloud.registerDag(TXF_MERGE_FORK, {
    functions: ["txf_mf_src", "txf_mf_counter", "txf_mf_set", "txf_mf_join"],
    edges: [
      ["txf_mf_src", "txf_mf_counter"],
      ["txf_mf_src", "txf_mf_set"],
      ["txf_mf_counter", "txf_mf_join"],
      ["txf_mf_set", "txf_mf_join"],
    ],
  });
}

/** Options of {@link TxnWorkload}. */
export interface TxnWorkloadOptions {
  /** Key namespace (and tag prefix); a fresh one per run. */
  ns: string;
  consistency: Consistency;
  /** Writer lanes, each the only writer of its groups. @default 3 */
  writers?: number;
  /** Most requests per writer lane; {@link TxnWorkload.stop} ends the lanes sooner. @default 500 */
  writesPerWriter?: number;
  /** Groups per writer lane. @default 2 */
  groupsPerWriter?: number;
  /** Keys per group. @default 4 */
  keys?: number;
  /**
   * Writer lanes that write from the client instead of a run: a client transaction at
   * read-atomic, direct writes at lww. @default 0
   */
  clientWriters?: number;
  /** Reader lanes; they read until the writers are done, rotating chain, fork, two sources. @default 3 */
  readers?: number;
  /**
   * Lanes of runs of a forked DAG that merge into the shared counter and set (one branch each),
   * retried with their request id until acknowledged. Every writer also merges into them. @default 0
   */
  forkMergers?: number;
  /**
   * Lanes that merge into the shared counter and set straight from the client (plain `merge`).
   * A counter merge that fails is not repeated (its increment rides on the writer's next write,
   * or was applied): it is the only slack the shared counter is allowed. @default 0
   */
  plainMergers?: number;
  /** The gate `txf_w2` asks before its last write (empty: none). @default "" */
  gate?: string;
  /** Deadline of one call. @default 20000 */
  callTimeoutMs?: number;
  /** Attempts of one request before its client gives up. @default 40 */
  maxAttempts?: number;
}

/** Calls of each kind running now, and what failed so far. */
export interface WorkloadProgress {
  writesInFlight: number;
  readsInFlight: number;
  acked: number;
  /** Failed attempts (each retried) by error code. */
  errors: Record<string, number>;
}

/**
 * Runs writer and reader lanes until every writer request is acknowledged (or given up).
 *
 * @example
 * ```ts
 * await registerTxnCheck(cloud);
 * const w = new TxnWorkload(cloud, { ns: "ra-1", consistency: "read-atomic" });
 * await w.run();
 * // Read every group's keys and every request's counter from storage, then:
 * const report = w.checker.check({ groups, counters });
 * ```
 */
export class TxnWorkload {
  readonly checker = new TxnChecker();
  /** What the merging lanes did to the shared counter and set. */
  readonly shared = new SharedTally();
  readonly progress: WorkloadProgress = {
    writesInFlight: 0,
    readsInFlight: 0,
    acked: 0,
    errors: {},
  };
  private readonly o: Required<TxnWorkloadOptions>;
  private readonly tags: string[] = [];
  private readonly groupByTag = new Map<string, string>();
  private readonly ackWaiters: { n: number; resolve: () => void }[] = [];
  private writing = true;
  private stopped = false;
  private reads = 0;

  constructor(
    private readonly cloud: TxnCheckCloud,
    o: TxnWorkloadOptions,
  ) {
    this.o = {
      writers: 3,
      clientWriters: 0,
      forkMergers: 0,
      plainMergers: 0,
      writesPerWriter: 500,
      groupsPerWriter: 2,
      keys: 4,
      readers: 3,
      gate: "",
      callTimeoutMs: 20_000,
      maxAttempts: 40,
      ...o,
    };
    for (const f of [
      "writers",
      "clientWriters",
      "forkMergers",
      "plainMergers",
      "writesPerWriter",
      "groupsPerWriter",
      "readers",
      "maxAttempts",
    ]) {
      const v = this.o[f as keyof TxnWorkloadOptions];
      if (!Number.isSafeInteger(v) || (v as number) < 0) {
        throw InvalidArgumentError.field(f, "must be a non-negative integer");
      }
    }
    if (!Number.isSafeInteger(this.o.keys) || this.o.keys < 2) {
      throw InvalidArgumentError.field("keys", "must be an integer of at least 2");
    }
    if (!/^[0-9a-zA-Z_-]{1,64}$/.test(this.o.ns)) {
      // It names keys and request ids (which name transaction records).
      throw InvalidArgumentError.field("ns", "must be 1-64 characters of [0-9a-zA-Z_-]");
    }
  }

  /** Every group's name. */
  get groups(): string[] {
    const n = (this.o.writers + this.o.clientWriters) * this.o.groupsPerWriter;
    return Array.from({ length: n }, (_, i) => `g${i}`);
  }

  /** The storage keys of a group, in order. */
  groupKeys(group: string): string[] {
    return Array.from({ length: this.o.keys }, (_, i) => `${this.o.ns}/${group}/k${i}`);
  }

  /** The shared counter's and set's keys. */
  get sharedKeys(): { counter: string; set: string } {
    return { counter: `${this.o.ns}/shared/c`, set: `${this.o.ns}/shared/s` };
  }

  /** Every issued request's tag and the key of its counter. */
  counterKeys(): [string, string][] {
    return this.tags.map((t) => [t, `${this.o.ns}/n/${t}`]);
  }

  /** The group a request writes. */
  groupOf(tag: string): string | undefined {
    return this.groupByTag.get(tag);
  }

  /** Resolves once `n` requests were acknowledged in all. */
  whenAcked(n: number): Promise<void> {
    if (this.progress.acked >= n) return Promise.resolve();
    return new Promise((resolve) => this.ackWaiters.push({ n, resolve }));
  }

  /** Writers issue no new request (those running finish); readers end with them. */
  stop(): void {
    this.stopped = true;
  }

  /** Runs the lanes to the end. */
  async run(): Promise<void> {
    const writers = Array.from({ length: this.o.writers + this.o.clientWriters }, (_, w) =>
      this.writer(w),
    );
    const readers = Array.from({ length: this.o.readers }, (_, r) => this.reader(r));
    const mergers = [
      ...Array.from({ length: this.o.forkMergers }, (_, m) => this.forkMerger(m)),
      ...Array.from({ length: this.o.plainMergers }, (_, m) => this.plainMerger(m)),
    ];
    await Promise.all([...writers, ...mergers]);
    this.writing = false;
    await Promise.all(readers);
  }

  /** Writer lane `w`: a run per request, or past `writers`, a client transaction. */
  private async writer(w: number): Promise<void> {
    const { ns, groupsPerWriter: per } = this.o;
    const client = w >= this.o.writers;
    for (let i = 0; i < this.o.writesPerWriter && !this.stopped; i++) {
      const g = `g${w * per + (i % per)}`;
      const tag = `${ns}-${client ? "c" : "w"}${w}-${i}`;
      this.tags.push(tag);
      this.groupByTag.set(tag, g);
      this.checker.issued(tag, g);
      let ok: boolean;
      if (client) {
        const write = {
          tag,
          keys: this.groupKeys(g),
          counterKey: `${ns}/n/${tag}`,
          shared: this.sharedKeys,
        };
        this.progress.writesInFlight++;
        ok = await clientWrite(this.cloud, this.o.consistency, write, this.o.maxAttempts, (e, a) =>
          this.failed(e, a),
        ).finally(() => this.progress.writesInFlight--);
      } else {
        const up: Up = { ns, g, keys: this.o.keys, tag, gate: this.o.gate, shared: true };
        ok =
          (await this.attempt("write", () => this.call(TXF_WRITE, { txf_w1: [up] }, tag))) === tag;
      }
      this.shared.issued(tag);
      if (ok) {
        this.ack(tag);
        this.shared.acked(tag);
      }
    }
  }

  /** A lane of forked runs, each merging into the shared counter and set once. */
  private async forkMerger(m: number): Promise<void> {
    const { ns } = this.o;
    for (let i = 0; i < this.o.writesPerWriter && !this.stopped; i++) {
      const tag = `${ns}-f${m}-${i}`;
      this.shared.issued(tag);
      const up: Up = { ns, g: "", keys: 2, tag };
      const out = await this.attempt("write", () =>
        this.call(TXF_MERGE_FORK, { txf_mf_src: [up] }, tag),
      );
      if (out === tag) this.shared.acked(tag);
    }
  }

  /** A lane of plain merges into the shared counter and set, straight from the client. */
  private async plainMerger(m: number): Promise<void> {
    const { ns } = this.o;
    const keys = this.sharedKeys;
    for (let i = 0; i < this.o.writesPerWriter && !this.stopped; i++) {
      const tag = `${ns}-p${m}-${i}`;
      this.shared.issued(tag);
      this.progress.writesInFlight++;
      try {
        await this.cloud.merge(keys.counter, lattices.counter(1));
      } catch (e) {
        // Applied or not: either way it must not be repeated (see `plainMergers`).
        this.shared.unknown(tag);
        await this.failed(e, 1);
        continue;
      } finally {
        this.progress.writesInFlight--;
      }
      // A set add is idempotent: repeated until it lands.
      for (let a = 1; a <= this.o.maxAttempts; a++) {
        try {
          await this.cloud.merge(keys.set, lattices.set([tag]));
          this.shared.acked(tag);
          break;
        } catch (e) {
          await this.failed(e, a);
        }
      }
    }
  }

  private ack(tag: string): void {
    this.checker.acked(tag);
    this.progress.acked++;
    for (const wt of this.ackWaiters.filter((x) => x.n <= this.progress.acked)) {
      this.ackWaiters.splice(this.ackWaiters.indexOf(wt), 1);
      wt.resolve();
    }
  }

  private async reader(r: number): Promise<void> {
    const groups = this.groups;
    while (this.writing) {
      const n = this.reads++;
      const g = groups[(r + n) % groups.length] as string;
      const id = `${this.o.ns}-r${r}-${this.reads}`;
      const up: Up = { ns: this.o.ns, g, keys: this.o.keys };
      // Every shape of run reads one snapshot: a chain, a fork, two sources.
      const shape = (r + n) % 3;
      const seen = await this.attempt("read", () =>
        shape === 0
          ? this.call(TXF_READ, { txf_r1: [up] }, id)
          : shape === 1
            ? this.call(TXF_READ_FORK, { txf_rf_src: [up] }, id)
            : this.call(TXF_READ_SOURCES, { txf_rf_half0: [up], txf_rf_half1: [up] }, id),
      );
      if (Array.isArray(seen)) this.checker.read(g, seen as TagValue[]);
    }
  }

  /** Counts a failed attempt and backs off before the next. */
  private async failed(e: unknown, attempt: number): Promise<void> {
    const code = (e as { code?: unknown }).code;
    const k = typeof code === "string" ? code : "UNTYPED";
    this.progress.errors[k] = (this.progress.errors[k] ?? 0) + 1;
    // Nothing signals that the cluster can take the call again (a node replaced, storage back):
    // back off a little, as a client would.
    await new Promise((r) => setTimeout(r, Math.min(50 * attempt, 500)));
  }

  private call(
    dag: string,
    inputs: Record<string, unknown[]>,
    requestId: string,
  ): Promise<unknown> {
    return this.cloud.callDag(dag, inputs, {
      consistency: this.o.consistency,
      requestId,
      // The driver retries itself, so that both levels retry alike.
      retries: 0,
      timeoutMs: this.o.callTimeoutMs,
    });
  }

  /** Calls `f` (one request id) until it returns; undefined when it gave up. */
  private async attempt(kind: "write" | "read", f: () => Promise<unknown>): Promise<unknown> {
    const field = kind === "write" ? "writesInFlight" : "readsInFlight";
    for (let a = 1; a <= this.o.maxAttempts; a++) {
      this.progress[field]++;
      try {
        return await f();
      } catch (e) {
        await this.failed(e, a);
      } finally {
        this.progress[field]--;
      }
    }
    return undefined;
  }
}

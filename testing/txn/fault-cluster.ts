/**
 * The cluster of the transaction fault test: a durable Redis of its own (it is restarted), a
 * scheduler and three node processes, nodes replaced after each SIGKILL, and the HTTP gate the
 * workload's writer asks before its last write (where the test holds runs and times kills).
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { Stratus } from "../../src/index.js";
import { HybridClock, decodeValue, plainValue } from "../../src/lattice/index.js";
import { userKey } from "../../src/state/index.js";
import { RedisStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import {
  TXN_PREFIX,
  Transaction,
  TxnManager,
  localBackend,
  tidForRequest,
} from "../../src/txn/index.js";
import type { SharedFinal } from "./index.js";
import type { FinalState, TagValue, TxnWorkload } from "./index.js";
import { registerTxnCheck } from "./index.js";
import { startStratus, until } from "../processes.js";
import type { Child } from "../processes.js";
import { RedisServer } from "../redis.js";

const TOKEN = "txn-fault-token";

/** What the gate was asked: the writer's tag and the pid of the node it runs on. */
export interface GateCall {
  tag: string;
  pid: number;
}

export class FaultCluster {
  /** Live node processes by id (a node leaves it when it is killed). */
  readonly nodes = new Map<string, Child>();
  private replaced = 0;
  /** Stops replacements still starting when the test ends (their join is not waited for). */
  private readonly aborter = new AbortController();
  private readonly starting: Promise<unknown>[] = [];

  private constructor(
    /** This process's own client of the store, to watch for writes. */
    private readonly watcher: RedisStore,
    readonly redis: RedisServer,
    readonly scheduler: Child,
    readonly cloud: Stratus,
    private readonly gateServer: Server,
    readonly gateUrl: string,
    private readonly onGate: { f: (c: GateCall) => Promise<void> },
  ) {}

  /**
   * Starts everything. Redis runs with AOF and `appendfsync always`: a write is on disk before
   * Redis acknowledges it, so a commit record acknowledged to a node survives a SIGKILL of Redis.
   */
  static async start(): Promise<FaultCluster> {
    const redis = await RedisServer.start({ durable: true });
    const scheduler = await startStratus(
      ["scheduler", "--store", redis.url, "--token", TOKEN, "--placement", "spread"],
      /scheduler \S+ at (\S+)\n/,
    );
    const onGate = { f: (_c: GateCall): Promise<void> => Promise.resolve() };
    const gateServer = createServer((req, res) => {
      const u = new URL(req.url ?? "/", "http://gate");
      const call = { tag: u.searchParams.get("tag") ?? "", pid: Number(u.searchParams.get("pid")) };
      // A held request whose node was killed closes: nothing is left waiting on it.
      onGate.f(call).then(
        () => res.end("go"),
        () => res.end("go"),
      );
    });
    gateServer.listen(0, "127.0.0.1");
    await once(gateServer, "listening");
    const port = (gateServer.address() as { port: number }).port;
    const cloud = await Stratus.connect(scheduler.ready, { token: TOKEN });
    const watcher = await RedisStore.connect({ url: redis.url });
    const c = new FaultCluster(
      watcher,
      redis,
      scheduler,
      cloud,
      gateServer,
      `http://127.0.0.1:${port}/gate`,
      onGate,
    );
    await Promise.all(["n1", "n2", "n3"].map((id) => c.startNode(id)));
    await c.untilNodes(3);
    await registerTxnCheck(cloud);
    return c;
  }

  /** Routes gate calls to `f` (it decides when the writer goes on). */
  gate(f: (c: GateCall) => Promise<void>): void {
    this.onGate.f = f;
  }

  async startNode(id: string): Promise<void> {
    const child = await startStratus(
      ["node", "--join", this.scheduler.ready, "--token", TOKEN, "--executors", "2", "--id", id],
      /node (\S+) joined/,
      {},
      [],
      this.aborter.signal,
    );
    this.nodes.set(id, child);
  }

  /** The id of the live node process with this pid, if any. */
  nodeByPid(pid: number): string | undefined {
    for (const [id, c] of this.nodes) if (c.proc.pid === pid) return id;
    return undefined;
  }

  /**
   * SIGKILLs a node (it leaves {@link nodes} at once) and starts a replacement in the background;
   * resolves when the victim exited, with the replacement's start (resolving with how long it
   * took to join, ms).
   */
  async killAndReplace(id: string): Promise<{ replaced: Promise<number> }> {
    const c = this.nodes.get(id);
    if (c === undefined) throw new Error(`no live node ${id}`);
    this.nodes.delete(id);
    const exited = once(c.proc, "exit");
    c.proc.kill("SIGKILL");
    await exited;
    const t0 = performance.now();
    const replaced = this.startReplacement().then(() => performance.now() - t0);
    this.starting.push(replaced.catch(() => undefined));
    return { replaced };
  }

  /**
   * Starts a replacement node, again if one exits before it joined, as an orchestrator restarts
   * a crashed pod: a node started while Redis restarts exits at once with STORAGE_UNAVAILABLE,
   * and without this the cluster stayed a node short (a fault that needs two live nodes never
   * fired). Stops trying when the cluster stops.
   */
  private async startReplacement(): Promise<void> {
    for (;;) {
      try {
        return await this.startNode(`r${++this.replaced}`);
      } catch (e) {
        if (this.aborter.signal.aborted) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * Resolves at the first write to a key under `prefix` (storage's change stream), once the
   * subscription is in place (the outer promise).
   */
  async nextWrite(prefix: string): Promise<{ written: Promise<void> }> {
    let resolve!: () => void;
    const written = new Promise<void>((r) => (resolve = r));
    const sub = await this.watcher.subscribe(prefix, (ev) => {
      if (ev.kind === "put") resolve();
    });
    void written.then(() => sub.close());
    return { written };
  }

  async untilNodes(n: number): Promise<void> {
    await until(async () => (await this.cloud.status()).nodes.length === n, 20_000, `${n} nodes`);
  }

  /**
   * Reads a group now, from outside any run (no executor needed, so a held run cannot starve
   * it): through a client transaction (`cloud.txn`) at read-atomic, plain `get`s at lww.
   */
  async readGroup(level: "lww" | "read-atomic", keys: string[]): Promise<TagValue[]> {
    const out: TagValue[] = [];
    if (level === "lww") {
      for (const k of keys) out.push((await this.cloud.get<string>(k)) ?? null);
      return out;
    }
    const tx = await this.cloud.txn.begin();
    for (const k of keys) out.push((await tx.get<string>(k)) ?? null);
    await tx.abort();
    return out;
  }

  /** A client of the cluster's store (close it). */
  store(): Promise<RedisStore> {
    return RedisStore.connect({ url: this.redis.url });
  }

  /** SIGKILLs Redis and starts it again on the same port and data. */
  async restartRedis(): Promise<void> {
    await this.redis.kill("SIGKILL");
    await this.redis.start();
  }

  async stop(): Promise<void> {
    await this.cloud.close();
    await this.watcher.close();
    await Promise.all([this.scheduler, ...this.nodes.values()].map((c) => c.stop()));
    // Replacements still starting (or that joined meanwhile) are SIGKILLed.
    this.aborter.abort();
    await Promise.all(this.starting);
    this.gateServer.closeAllConnections();
    this.gateServer.close();
    await this.redis.stop();
  }
}

/**
 * The final state, read straight from `store` by a transaction manager of this test process (a
 * fresh manager scans every commit record when it starts, so it misses none): through one
 * transaction for `read-atomic`, as plain values for `lww`.
 */
export async function readFinal(
  store: Store,
  w: TxnWorkload,
  level: "lww" | "read-atomic",
  /** Requests whose commit records to list (epochs of the attempts that wrote one). */
  recordsOf: readonly string[] = [],
): Promise<{
  final: FinalState;
  records: Map<string, number[]>;
  shared: { plain: SharedFinal; txn: SharedFinal };
}> {
  const clock = new HybridClock({ node: "checker" });
  const mgr = await TxnManager.start({ store, clock, gcIntervalMs: 0, recoveryIntervalMs: 0 });
  try {
    let read: (key: string) => Promise<unknown>;
    if (level === "read-atomic") {
      const tx = await Transaction.begin(localBackend(mgr, clock));
      read = async (k) => {
        const r = await tx.read(k);
        return r === undefined ? undefined : decodeValue(r.bytes);
      };
    } else {
      read = async (k) => {
        const l = await store.get(userKey(k));
        return l === undefined ? undefined : plainValue(l);
      };
    }
    const groups = new Map<string, TagValue[]>();
    for (const g of w.groups) {
      const vals: TagValue[] = [];
      for (const k of w.groupKeys(g)) vals.push(((await read(k)) as string | undefined) ?? null);
      groups.set(g, vals);
    }
    const counters = new Map<string, number>();
    for (const [tag, k] of w.counterKeys()) counters.set(tag, Number((await read(k)) ?? 0));
    // Which attempts of a request wrote a commit record (the rest were fenced or never ran).
    const records = new Map<string, number[]>();
    for (const tag of recordsOf) {
      const tid = tidForRequest(tag);
      const found: number[] = [];
      for await (const key of store.scan(`${TXN_PREFIX}${tid}.`)) {
        const e = Number(key.slice(key.lastIndexOf(".") + 1));
        if ((await mgr.find(tid, e)) !== undefined) found.push(e);
      }
      records.set(
        tag,
        found.sort((a, b) => a - b),
      );
    }
    // The shared counter and set, read both ways: one state, whichever reader.
    const { counter, set } = w.sharedKeys;
    const plainOf = async (k: string): Promise<unknown> => {
      const l = await store.get(userKey(k));
      return l === undefined ? undefined : plainValue(l);
    };
    const tx = await Transaction.begin(localBackend(mgr, clock));
    const txOf = async (k: string): Promise<unknown> => {
      const r = await tx.read(k);
      return r === undefined ? undefined : decodeValue(r.bytes);
    };
    const shared = {
      plain: {
        counter: Number((await plainOf(counter)) ?? 0),
        set: ((await plainOf(set)) ?? []) as string[],
      },
      txn: {
        counter: Number((await txOf(counter)) ?? 0),
        set: ((await txOf(set)) ?? []) as string[],
      },
    };
    await tx.abort();
    return { final: { groups, counters }, records, shared };
  } finally {
    await mgr.close();
  }
}

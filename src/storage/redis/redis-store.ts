import type { Cluster, ClusterNode, Redis, RedisOptions } from "ioredis";
import type * as IoRedis from "ioredis";
import type { ConnectionOptions } from "node:tls";
import { ClosedError, InvalidArgumentError, ValueTooLargeError } from "../../errors/index.js";
import { asBuffer, isAbsent, isTimestamp } from "../../lattice/index.js";
import type { Lattice } from "../../lattice/index.js";
import { CounterStamps, hasDelta } from "../counters.js";
import { checkKey, checkTtl, resolveStoreLimits } from "../store.js";
import type {
  ChangeListener,
  ConnectionListener,
  ResolvedStoreLimits,
  ScanStep,
  Store,
  StoreLimits,
  Subscription,
  ThenWrite,
} from "../store.js";
import { Deadlines } from "./deadlines.js";
import { redactStoreAddress } from "../redact.js";
import { connectError, mapRedisError } from "./errors.js";
import { fromHash, fromString, writeArgs } from "./layout.js";
import type { WriteArgs } from "./layout.js";
import { KeyspaceNotifier } from "./notifications.js";
import { COMMIT_SCRIPT, MERGE_SCRIPT } from "./merge-script.js";
import { DELETE_SCRIPT, LWW_SCRIPT } from "./scripts.js";

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /**
   * A standalone server, `redis://[:password@]host:port[/db]`, or `rediss://…` for TLS. One of
   * `url` or `cluster` is required.
   */
  url?: string;
  /** Seed nodes of a Redis Cluster; the rest are discovered. */
  cluster?: readonly { host: string; port: number }[];
  /** Prepended to every key, so several deployments can share a server. @default "stratus:" */
  keyPrefix?: string;
  /**
   * Deadline of every operation, in milliseconds. An operation that cannot complete in time (the
   * server is down or restarting) fails with `STORAGE_UNAVAILABLE`. @default 5000
   */
  opTimeoutMs?: number;
  /** Deadline to reach the server when connecting, in milliseconds. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Enable keyspace notifications with `CONFIG SET` when the first subscriber arrives. Turn off
   * when the server forbids CONFIG and `notify-keyspace-events` already includes `Kg$hxe`.
   * @default true
   */
  configureNotifications?: boolean;
  /** Password, when not in the URL. */
  password?: string;
  /**
   * TLS settings (Node's `tls.connect` options: `ca`, `cert`, `key`, `servername`, …). Implied
   * with its defaults by a `rediss://` URL; give it for a private CA or client certificates, and
   * for TLS to a Redis Cluster.
   */
  tls?: ConnectionOptions;
  limits?: StoreLimits;
}

interface Resolved {
  keyPrefix: string;
  opTimeoutMs: number;
  connectTimeoutMs: number;
  configureNotifications: boolean;
  limits: ResolvedStoreLimits;
}

function resolve(o: RedisStoreOptions): Resolved {
  if ((o.url === undefined) === (o.cluster === undefined)) {
    throw new InvalidArgumentError("RedisStore needs exactly one of url or cluster");
  }
  if (o.cluster !== undefined && o.cluster.length === 0) {
    throw InvalidArgumentError.field("cluster", "needs at least one seed node");
  }
  const opTimeoutMs = o.opTimeoutMs ?? 5000;
  if (!(opTimeoutMs > 0)) throw InvalidArgumentError.field("opTimeoutMs", "must be positive");
  const connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
  if (!(connectTimeoutMs > 0))
    throw InvalidArgumentError.field("connectTimeoutMs", "must be positive");
  return {
    keyPrefix: o.keyPrefix ?? "stratus:",
    opTimeoutMs,
    connectTimeoutMs,
    configureNotifications: o.configureNotifications ?? true,
    limits: resolveStoreLimits(o.limits),
  };
}

type Client = Redis | Cluster;
interface ScriptCommands {
  stratusMerge(
    key: string,
    mode: "merge" | "new",
    kind: string,
    ts: string,
    ...items: (string | Uint8Array)[]
  ): Promise<number>;
  stratusLww(key: string, mode: "merge" | "new", ts: string, stored: Uint8Array): Promise<number>;
  stratusDelete(key: string): Promise<number>;
  stratusCommit(numKeys: number, ...keysThenArgs: (string | Uint8Array)[]): Promise<number>;
}

/** What a read shows: nothing for an absent lattice (a deleted counter keeps its floors). */
function shown(l: Lattice | undefined): Lattice | undefined {
  return l === undefined || isAbsent(l) ? undefined : l;
}

function checkLattice(key: string, value: Lattice): Lattice {
  if (typeof value !== "object" || value === null || typeof value.merge !== "function") {
    throw new InvalidArgumentError(`value for key ${JSON.stringify(key)} is not a lattice`);
  }
  return value;
}

/**
 * ioredis, loaded by the first connect: a process that never opens a Redis store (a client that
 * imports the package, say) never pays for loading it.
 */
let ioredis: Promise<typeof IoRedis> | undefined;

/** Reconnect quickly after a restart, but never hammer a dead server more than every 500 ms. */
const retryStrategy = (times: number): number => Math.min(times * 50, 500);

/**
 * The Redis backend, for one server or a Redis Cluster. Values live in hashes under
 * `keyPrefix + key`; every merge runs as a Lua script on the server that owns the key, so
 * concurrent writers from any number of processes never lose an update. Commands are
 * auto-pipelined, so many operations in flight share round trips.
 *
 * @example
 * ```ts
 * const store = await RedisStore.connect({ url: "redis://127.0.0.1:6379" });
 * const cluster = await RedisStore.connect({ cluster: [{ host: "10.0.0.1", port: 7000 }] });
 * ```
 */
export class RedisStore implements Store {
  readonly backend: "redis" | "redis-cluster";
  private readonly deadlines: Deadlines;
  private readonly notifier: KeyspaceNotifier;
  private readonly counters = new CounterStamps();
  private closed = false;
  private readonly connection: ConnectionListener[] = [];
  /** The command connection closed and has not been ready since. */
  private lost = false;

  private constructor(
    private readonly client: Client,
    private readonly o: Resolved,
    db: number,
    /** ioredis's `Cluster` class, to tell a cluster client from a single server's. */
    private readonly ClusterClient: typeof IoRedis.Cluster,
  ) {
    const Cluster = ClusterClient;
    this.backend = client instanceof Cluster ? "redis-cluster" : "redis";
    this.deadlines = new Deadlines(o.opTimeoutMs);
    const masters = (): Redis[] => (client instanceof Cluster ? client.nodes("master") : [client]);
    this.notifier = new KeyspaceNotifier({
      keyPrefix: o.keyPrefix,
      db,
      configure: o.configureNotifications,
      masters,
      allNodes: () => (client instanceof Cluster ? client.nodes("all") : [client]),
    });
    client.on("close", () => {
      if (this.closed || this.lost) return;
      this.lost = true;
      this.tellConnection("lost", `${this.backend} connection closed; reconnecting`);
    });
    client.on("ready", () => {
      if (!this.lost) return;
      this.lost = false;
      this.tellConnection("restored", `${this.backend} connection ready again`);
    });
    if (client instanceof Cluster) {
      const resync = (): void => void this.notifier.reconcile().catch(() => undefined);
      client.on("+node", resync);
      client.on("-node", resync);
    }
  }

  onConnection(listener: ConnectionListener): void {
    this.connection.push(listener);
  }

  private tellConnection(state: "lost" | "restored", detail: string): void {
    for (const l of this.connection) {
      try {
        l(state, detail);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Connects and waits until the server (or every slot of the cluster) answers. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const o = resolve(options);
    const { Cluster, Redis } = await (ioredis ??= import("ioredis"));
    const common: RedisOptions = {
      enableAutoPipelining: true,
      // Commands wait for a reconnect, but never past the operation deadline.
      maxRetriesPerRequest: null,
      commandTimeout: o.opTimeoutMs,
      connectTimeout: o.connectTimeoutMs,
      lazyConnect: true,
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    };
    let client: Client;
    let db = 0;
    if (options.url !== undefined) {
      // Messages name the address without its password (URL errors carry their input too).
      const shown = redactStoreAddress(options.url);
      let url: URL;
      try {
        url = new URL(options.url);
      } catch {
        throw InvalidArgumentError.field("url", `not a URL: ${shown}`);
      }
      if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
        throw InvalidArgumentError.field(
          "url",
          `must start with redis:// or rediss://, got ${shown}`,
        );
      }
      db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
      client = new Redis(options.url, { ...common, retryStrategy });
    } else {
      client = new Cluster(options.cluster as ClusterNode[], {
        enableAutoPipelining: true,
        clusterRetryStrategy: retryStrategy,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: o.connectTimeoutMs,
        lazyConnect: true,
        redisOptions: common,
      });
    }
    // Surfaced per operation; reconnection is automatic. The last one names why a connect failed.
    let lastError: Error | undefined;
    client.on("error", (e: Error) => void (lastError = e));
    client.defineCommand("stratusMerge", { numberOfKeys: 1, lua: MERGE_SCRIPT });
    client.defineCommand("stratusLww", { numberOfKeys: 1, lua: LWW_SCRIPT });
    client.defineCommand("stratusDelete", { numberOfKeys: 1, lua: DELETE_SCRIPT });
    // The number of keys comes first in each call.
    client.defineCommand("stratusCommit", { lua: COMMIT_SCRIPT });
    const store = new RedisStore(client, o, db, Cluster);
    try {
      // Connecting has its own, longer deadline (a cluster discovers its slots first).
      const connecting = new Deadlines(o.connectTimeoutMs);
      try {
        await connecting.run("connect", client.connect());
        await connecting.run("ping", client.ping());
      } finally {
        connecting.cancelAll(new ClosedError("connect finished"));
      }
    } catch (e) {
      client.disconnect();
      const address =
        options.url !== undefined
          ? redactStoreAddress(options.url)
          : (options.cluster ?? []).map((n) => `${n.host}:${n.port}`).join(",");
      throw connectError(e, lastError, address);
    }
    return store;
  }

  get(key: string): Promise<Lattice | undefined> {
    try {
      this.check(key);
      const full = this.o.keyPrefix + key;
      // Most keys are strings (one GET); collections are hashes, found by Redis's WRONGTYPE.
      return this.bound(`get ${key}`, this.client.getBuffer(full)).then(
        (s) => (s === null ? undefined : fromString(key, s)),
        (e: unknown) => {
          if (e instanceof Error && e.message.startsWith("WRONGTYPE")) {
            return this.run(key, "get", this.client.hgetallBuffer(full)).then((h) =>
              shown(fromHash(key, h)),
            );
          }
          throw mapRedisError(e, key);
        },
      );
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async getMany(keys: readonly string[]): Promise<(Lattice | undefined)[]> {
    for (const k of keys) this.check(k);
    return Promise.all(keys.map((k) => this.get(k)));
  }

  async put(key: string, value: Lattice): Promise<Lattice | undefined> {
    this.check(key);
    const stamped = this.counters.stamp(key, checkLattice(key, value));
    const changed = await this.write(key, stamped, "merge");
    // A last-writer-wins write that changed the key replaced it whole: the key holds exactly it.
    return changed === 1 && stamped.kind === "lww" ? stamped : undefined;
  }

  async putMany(entries: readonly (readonly [string, Lattice])[]): Promise<void> {
    const results = await Promise.allSettled(entries.map(([k, v]) => this.put(k, v)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  async putIfAbsent(key: string, value: Lattice): Promise<boolean> {
    this.check(key);
    return (await this.write(key, this.counters.stampOnce(checkLattice(key, value)), "new")) === 1;
  }

  /**
   * One script on a single server. A cluster keeps the two steps: its keys hash to different
   * slots, which one script cannot touch.
   */
  async putIfAbsentThenMerge(
    key: string,
    value: Lattice,
    writes: readonly ThenWrite[],
  ): Promise<"stored" | "partial" | "present" | undefined> {
    if (this.backend !== "redis") return undefined;
    this.check(key);
    const keys = [this.o.keyPrefix + key];
    const argv: (string | Uint8Array)[] = [];
    const add = (k: string, l: Lattice): void => {
      const a: WriteArgs = writeArgs(l);
      if (a.bytes > this.o.limits.maxValueBytes) {
        throw ValueTooLargeError.of(k, a.bytes, this.o.limits.maxValueBytes);
      }
      argv.push(a.kind, a.ts, String(a.items.length), ...a.items);
    };
    add(key, this.counters.stampOnce(checkLattice(key, value)));
    for (const w of writes) {
      const k = w[0];
      this.check(k);
      keys.push(this.o.keyPrefix + k);
      if (w[1] === null) {
        if (!isTimestamp(w[2])) throw InvalidArgumentError.field("writes", "a delete needs a time");
        argv.push("-", w[2], "0");
        continue;
      }
      if (hasDelta(checkLattice(k, w[1]))) {
        throw InvalidArgumentError.field("writes", `${JSON.stringify(k)} holds an unstamped delta`);
      }
      add(k, w[1]);
    }
    let out: number;
    try {
      out = await this.scripts.stratusCommit(keys.length, ...keys, ...argv);
    } catch (e) {
      // As in `write`: a server that lost its script cache gets the script itself.
      if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw mapRedisError(e, key);
      const args = [...keys, ...argv].map((x) => (typeof x === "string" ? x : asBuffer(x)));
      out = await this.run(
        key,
        "putIfAbsentThenMerge",
        this.client.eval(COMMIT_SCRIPT, keys.length, ...args) as Promise<number>,
      );
    }
    return out === 0 ? "present" : out === 1 ? "stored" : "partial";
  }

  async delete(key: string): Promise<void> {
    this.check(key);
    const full = this.o.keyPrefix + key;
    try {
      await this.bound(`delete ${JSON.stringify(key)}`, this.scripts.stratusDelete(full));
    } catch (e) {
      // As in `write`: a server that lost its script cache gets the script itself.
      if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw mapRedisError(e, key);
      await this.run(key, "delete", this.client.eval(DELETE_SCRIPT, 1, full) as Promise<number>);
    }
  }

  async expire(key: string, ttlMs: number): Promise<void> {
    this.check(key);
    checkTtl(ttlMs);
    await this.run(key, "expire", this.client.pexpire(this.o.keyPrefix + key, Math.ceil(ttlMs)));
  }

  async *scan(prefix: string): AsyncIterable<string> {
    if (this.closed) throw new ClosedError("the Redis store is closed");
    if (typeof prefix !== "string") throw InvalidArgumentError.field("prefix", "must be a string");
    const full = this.o.keyPrefix + prefix;
    const match = full.replace(/[*?[\]\\]/g, (c) => "\\" + c) + "*";
    const nodes =
      this.client instanceof this.ClusterClient ? this.client.nodes("master") : [this.client];
    const cut = this.o.keyPrefix.length;
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.run(
          prefix,
          "scan",
          node.scan(cursor, "MATCH", match, "COUNT", 1000),
        );
        cursor = next;
        for (const k of keys) yield k.slice(cut);
      } while (cursor !== "0");
    }
  }

  /**
   * One SCAN call on one server: the cursor is `<server index>.<SCAN cursor>`, servers (a
   * cluster's masters) in address order, so a listing resumes where it stopped.
   */
  async scanStep(prefix: string, cursor: string, count: number): Promise<ScanStep> {
    if (this.closed) throw new ClosedError("the Redis store is closed");
    if (typeof prefix !== "string") throw InvalidArgumentError.field("prefix", "must be a string");
    const m = cursor === "" ? ["", "0", "0"] : /^(\d{1,4})\.(\d{1,20})$/.exec(cursor);
    if (m === null) throw InvalidArgumentError.field("cursor", "is not a cursor of this store");
    const nodes =
      this.client instanceof this.ClusterClient
        ? this.client.nodes("master").sort((a, b) => addr(a).localeCompare(addr(b)))
        : [this.client];
    const i = Number(m[1]);
    const node = nodes[i];
    if (node === undefined) return { keys: [], next: "" };
    const full = this.o.keyPrefix + prefix;
    const match = full.replace(/[*?[\]\\]/g, (c) => "\\" + c) + "*";
    const n = Math.max(1, Math.min(10_000, Math.floor(count)));
    const [next, keys] = await this.run(
      prefix,
      "scan",
      node.scan(m[2] as string, "MATCH", match, "COUNT", n),
    );
    const cut = this.o.keyPrefix.length;
    const more = next !== "0" ? `${i}.${next}` : i + 1 < nodes.length ? `${i + 1}.0` : "";
    return { keys: keys.map((k) => k.slice(cut)), next: more };
  }

  subscribe(prefix: string, listener: ChangeListener): Promise<Subscription> {
    if (this.closed) return Promise.reject(new ClosedError("the Redis store is closed"));
    return this.deadlines.run("subscribe", this.notifier.subscribe(prefix, listener));
  }

  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError("the Redis store is closed"));
    return this.deadlines.run(
      "sync",
      this.notifier.sync().catch((e: unknown) => {
        throw mapRedisError(e);
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.notifier.close();
    this.deadlines.cancelAll(new ClosedError("the Redis store was closed"));
    // QUIT waits for replies; a cluster node that is reconnecting may never give one, and a
    // close must not hang. Past a short grace period, drop the sockets.
    // A client that is not connected has nobody to say goodbye to.
    if (this.client.status !== "ready") {
      this.client.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)));
    try {
      await Promise.race([this.client.quit(), grace]);
    } catch {
      // Falls through to disconnect.
    } finally {
      clearTimeout(timer);
      this.client.disconnect();
    }
  }

  private get scripts(): ScriptCommands {
    return this.client as unknown as ScriptCommands;
  }

  private check(key: string): void {
    if (this.closed) throw new ClosedError("the Redis store is closed");
    checkKey(key, this.o.limits);
  }

  private async write(key: string, value: Lattice, mode: "merge" | "new"): Promise<number> {
    const a: WriteArgs = writeArgs(value);
    if (a.bytes > this.o.limits.maxValueBytes) {
      throw ValueTooLargeError.of(key, a.bytes, this.o.limits.maxValueBytes);
    }
    const full = this.o.keyPrefix + key;
    const what = mode === "new" ? "putIfAbsent" : "put";
    const args = [full, mode, a.kind, a.ts, ...a.items] as const;
    try {
      return await this.bound(`${what} ${JSON.stringify(key)}`, this.scripts.stratusMerge(...args));
    } catch (e) {
      // A server that restarted without persistence has an empty script cache, and ioredis does
      // not always fall back to EVAL for scripts sent in an auto-pipeline (cluster mode): send
      // the script itself, which also caches it again for the EVALSHAs that follow.
      if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw mapRedisError(e, key);
      const argv = args.map((x) => (typeof x === "string" ? x : asBuffer(x)));
      const again = this.client.eval(MERGE_SCRIPT, 1, ...argv) as Promise<number>;
      return this.run(key, what, again);
    }
  }

  private async run<T>(key: string, what: string, op: Promise<T>): Promise<T> {
    try {
      return await this.bound(`${what} ${JSON.stringify(key)}`, op);
    } catch (e) {
      throw mapRedisError(e, key);
    }
  }

  /**
   * Bounds an operation by the deadline. A standalone client's commands carry ioredis's own
   * `commandTimeout`, which also covers commands queued while reconnecting; a cluster queues
   * commands of its own while it cannot route them, with no timeout, so cluster operations are
   * also raced against the deadline.
   */
  private bound<T>(what: string, op: Promise<T>): Promise<T> {
    return this.client instanceof this.ClusterClient ? this.deadlines.run(what, op) : op;
  }
}

/** A server's address, to order a cluster's masters the same way on every step of a scan. */
function addr(r: Redis): string {
  return `${r.options.host ?? ""}:${r.options.port ?? 0}`;
}

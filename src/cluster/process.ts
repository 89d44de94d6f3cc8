import { randomBytes } from "node:crypto";
import { InvalidArgumentError } from "../errors/index.js";
import { HybridClock } from "../lattice/index.js";
import { Node, validateFunctionSource } from "../node/index.js";
import type { NodeOptions } from "../node/index.js";
import {
  Dispatcher,
  Gateway,
  Membership,
  Peers,
  Placer,
  Registry,
  isFnMessage,
  isRunResult,
  isTrigger,
} from "../scheduler/index.js";
import type { PlacementPolicy } from "../scheduler/index.js";
import { openStore } from "../storage/index.js";
import type { Store } from "../storage/index.js";
import { WireServer } from "../wire/index.js";
import type { Connection, Handlers } from "../wire/index.js";

/** Options of {@link StratusProcess.start}. */
export interface ProcessOptions {
  /** Cluster token every connection must present. */
  token: string;
  /** Storage: an open Store or an address (`memory:`, `redis://…`, `redis-cluster://…`). @default "memory:" */
  store?: Store | string;
  /** Run a scheduler/gateway (accepts clients). @default true */
  scheduler?: boolean;
  /** Executor threads of this process's node; 0 runs no node. @default 4 */
  executors?: number;
  /** Listen address. @default 127.0.0.1 */
  host?: string;
  /** Listen port; 0 picks a free one. @default 0 */
  port?: number;
  /** Address others reach this process at, when it differs from host:port (NAT, 0.0.0.0). */
  advertise?: string;
  /** Process id (node id). @default random */
  id?: string;
  /** @default "locality" */
  placement?: PlacementPolicy;
  /** Node heartbeat period. @default 500 */
  heartbeatMs?: number;
  /** A node silent this long is removed. @default 2500 */
  expiryMs?: number;
  /** Retries of a run after its node is lost. @default 2 */
  maxRetries?: number;
  /** Node cache size. @default 256 MiB */
  cacheBytes?: number;
  /**
   * Executor limits: `defaultTimeoutMs` (60 000), `maxTimeoutMs` (900 000: the cap on any
   * function's own timeoutMs), `resourceLimits` (heap, 512 MB), … as in ExecutorPoolOptions.
   */
  pool?: NodeOptions["pool"];
}

/**
 * One Stratus process: a listener, and a scheduler, a node or both over one store. `stratus up`
 * is both over `memory:`; `stratus node --join` and `stratus scheduler` are one each.
 *
 * @example
 * ```ts
 * const p = await StratusProcess.start({ token: "secret", executors: 2 });
 * console.log(p.url); // stratus://127.0.0.1:41234
 * await p.close();
 * ```
 */
export class StratusProcess {
  private constructor(
    readonly id: string,
    readonly url: string,
    readonly storeAddress: string | undefined,
    private readonly parts: {
      server: WireServer;
      store: Store;
      ownStore: boolean;
      membership: Membership;
      registry: Registry;
      peers: Peers;
      dispatcher: Dispatcher;
      node: Node | undefined;
    },
  ) {}

  get node(): Node | undefined {
    return this.parts.node;
  }

  get store(): Store {
    return this.parts.store;
  }

  /** Runs this process started, and their counters. */
  get dispatcher(): Dispatcher {
    return this.parts.dispatcher;
  }

  static async start(o: ProcessOptions): Promise<StratusProcess> {
    if (typeof o.token !== "string" || o.token.length === 0) {
      throw new InvalidArgumentError("a cluster token is required");
    }
    const id = o.id ?? `n-${randomBytes(4).toString("hex")}`;
    const storeAddress =
      typeof o.store === "string" ? o.store : o.store === undefined ? "memory:" : undefined;
    const store =
      typeof o.store === "object" ? o.store : await openStore(storeAddress ?? "memory:");
    const clock = new HybridClock({ node: id });
    const [membership, registry] = await Promise.all([
      Membership.open(store, { expiryMs: o.expiryMs }),
      Registry.open(store, clock),
    ]);
    let node: Node | undefined;
    let gateway: Gateway | undefined;
    const late: { dispatcher?: Dispatcher } = {};
    const notify = (method: string, a: unknown): void => {
      if (method === "result") {
        if (isRunResult(a)) late.dispatcher?.onResult(a);
      } else if (method === "trigger") {
        if (isTrigger(a)) node?.onTrigger(a);
      } else if (method === "fnmsg") {
        if (isFnMessage(a)) node?.onMessage(a);
      }
    };
    const handlers: Handlers = {
      request: (method: string, a: unknown, conn: Connection) => {
        if (method === "cluster.info") return { id, store: storeAddress ?? null };
        if (gateway === undefined) {
          throw new InvalidArgumentError(
            `${id} is a node without a scheduler; send calls to a scheduler`,
          );
        }
        return gateway.handle(method, a, conn);
      },
      notify,
    };
    const server = await WireServer.listen({
      host: o.host ?? "127.0.0.1",
      port: o.port ?? 0,
      token: o.token,
      id,
      handlers,
    });
    const url = o.advertise ?? server.url;
    const peers = new Peers({
      id,
      role: "node",
      token: o.token,
      handlers,
      onLost: (addr) => {
        for (const m of membership.list())
          if (m.addr === addr && m.id !== id) membership.markLost(m.id);
      },
    });
    peers.setLocal(url, notify);
    const placer = new Placer(() => membership.list(), o.placement ?? "locality");
    const dispatcher = new Dispatcher({ addr: url, peers, placer, maxRetries: o.maxRetries });
    late.dispatcher = dispatcher;
    membership.onLost((nodeId) => dispatcher.onNodeLost(nodeId));
    if (o.scheduler ?? true) {
      gateway = new Gateway({
        store,
        clock,
        registry,
        dispatcher,
        membership,
        validate: (name, source) => validateFunctionSource(source, { name }),
      });
    }
    if ((o.executors ?? 4) > 0) {
      node = await Node.start({
        id,
        addr: url,
        store,
        clock,
        registry,
        membership,
        peers,
        dispatcher,
        executors: o.executors ?? 4,
        cacheBytes: o.cacheBytes,
        heartbeatMs: o.heartbeatMs,
        pool: o.pool,
      });
    }
    return new StratusProcess(id, url, storeAddress, {
      server,
      store,
      ownStore: typeof o.store !== "object",
      membership,
      registry,
      peers,
      dispatcher,
      node,
    });
  }

  /** Stops accepting work, fails what is pending with `CLOSED`, and releases everything. */
  async close(): Promise<void> {
    const p = this.parts;
    p.dispatcher.close();
    await p.node?.close();
    await p.server.close();
    await p.peers.close();
    await Promise.all([p.membership.close(), p.registry.close()]);
    if (p.ownStore) await p.store.close();
  }
}

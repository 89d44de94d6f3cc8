/**
 * A node: executors and the cache they share, with its lifecycle (start, heartbeat, resize,
 * close) and its intake (triggers, joins of several upstream results, cancels, messages). The
 * work is done by its parts: {@link ChainRunner} runs what triggers name and sends results on,
 * {@link NodeHost} serves the host calls of running functions, {@link Cancels} keeps track of
 * what was cancelled.
 */
import { InvalidArgumentError, OverloadedError, toWireError } from "../errors/index.js";
import { SessionPolicies } from "../consistency/index.js";
import type { RunSession, SessionPolicyFactory } from "../consistency/index.js";
import type { Logger } from "pino";
import type { HybridClock } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import { Heartbeat } from "../scheduler/index.js";
import type { Dispatcher, Membership, Peers, Registry } from "../scheduler/index.js";
import { KEYS } from "../protocol/index.js";
import type {
  Cancel,
  FnMessage,
  FunctionLogLine,
  LogQuery,
  NodeInfo,
  ScheduledFn,
  Trigger,
} from "../protocol/index.js";
import { UserState } from "../state/index.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/index.js";
import { NodeCache } from "../cache/index.js";
import { ExecutorPool, hostHandler } from "./executor/index.js";
import type { ExecutorPoolOptions, WorkerLogLine } from "./executor/index.js";
import { FunctionLogs } from "./logs.js";
import { OverloadLog } from "../observe/index.js";
import type { Tracing } from "../observe/index.js";
import { NodeTracing } from "./tracing.js";
import type { FunctionLogsOptions } from "./logs.js";
import { Cancels } from "./cancels.js";
import type { CancelCounts } from "./cancels.js";
import { ChainRunner, argBytes } from "./chain.js";
import { NodeHost } from "./host.js";
import type { FunctionTxnHost } from "./host.js";
import { NODE_DEFAULTS, isNodeId } from "./defaults.js";
import { Mailboxes } from "./mailbox.js";
import { Joins } from "./joins.js";

export type { FunctionTxnHost };

/** Options of {@link Node}. */
export interface NodeOptions {
  /** Node id: letters, digits, `-` and `_` (it prefixes invocation ids). */
  id: string;
  /** Address peers reach this node at. */
  addr: string;
  store: Store;
  clock: HybridClock;
  registry: Registry;
  membership: Membership;
  peers: Peers;
  /** Runs nested `ctx.call`s. */
  dispatcher: Dispatcher;
  /** Executor worker threads. @default 4 */
  executors?: number;
  /** Cache size in bytes. @default 256 MiB */
  cacheBytes?: number;
  /** Test only: the cache applies invalidations this late (NodeCacheOptions). @default 0 */
  lagInvalidationsMs?: number;
  /** Heartbeat period. @default 500 */
  heartbeatMs?: number;
  /** Triggers queued beyond this are refused with `OVERLOADED`. @default 100000 */
  maxQueued?: number;
  /**
   * Bytes of arguments of the invocations queued or running here beyond which triggers are
   * refused with `OVERLOADED` (one is always taken when none waits). @default 512 MiB
   */
  maxQueuedBytes?: number;
  /**
   * Largest result that is sent on; larger ones fail the run with `VALUE_TOO_LARGE`.
   * @default the frame limit less 1 MiB for the rest of the frame
   */
  maxValueBytes?: number;
  /**
   * Run the linear stretch of a DAG placed here back to back in one worker ("chains"). Off, every
   * function is its own invocation, as when they sit on different nodes. @default true
   */
  fuse?: boolean;
  /**
   * Told of every settled invocation that ran as a stage of a DAG of several functions, after the
   * pool's `observe` saw it (so stage counts never run ahead of call counts).
   */
  observeStage?: (fn: string) => void;
  /** Passed to the executor pool (time and memory limits). */
  pool?: Partial<Omit<ExecutorPoolOptions, "size" | "host">>;
  /**
   * The consistency levels this node offers besides `lww` (src/consistency, src/txn); a run at
   * another level fails with `INVALID_ARGUMENT`. @default []
   */
  sessionPolicies?: readonly SessionPolicyFactory[];
  /**
   * Serves `ctx.txn` (src/txn `FunctionTransactions`, passed in so that the node names no
   * transaction code). Without it `ctx.txn` fails with `INVALID_ARGUMENT`.
   */
  txn?: FunctionTxnHost;
  /** Bounds of the function log lines this node keeps (`stratus logs`). */
  logs?: FunctionLogsOptions;
  /**
   * Where function log lines also go, as structured fields (`fn`, `run`, `inv`, `node`), and
   * where refused triggers are noted (`overload`).
   */
  log?: Logger;
  /** Spans of invocations and their storage operations (`--otlp-endpoint`). @default none */
  tracing?: Tracing;
}

/**
 * A node: executors and the cache they share. It runs the functions triggers name, feeds their
 * results straight to the nodes of downstream functions (as the schedule that came with the
 * trigger says) and answers the gateway from the sink.
 *
 * @example
 * ```ts
 * const node = await Node.start({ id: "n1", addr, store, clock, registry, membership, peers, dispatcher });
 * node.onTrigger(trigger); // normally arrives over the wire
 * ```
 */
export class Node {
  readonly id: string;
  readonly cache: NodeCache;
  private readonly pool: ExecutorPool;
  private readonly policies: SessionPolicies;
  private readonly boxes = new Mailboxes();
  private readonly joins = new Joins();
  private readonly heartbeat: Heartbeat;
  private readonly startedAt = Date.now();
  private readonly cancelBook: Cancels;
  private readonly chains: ChainRunner;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  /** The `console.*` lines of the functions run here, bounded. */
  readonly logs: FunctionLogs;
  private readonly overloads: OverloadLog;

  private constructor(
    private readonly o: NodeOptions,
    cache: NodeCache,
  ) {
    if (!isNodeId(o.id)) {
      throw new InvalidArgumentError(
        `node id ${JSON.stringify(o.id)}: use letters, digits, - and _`,
      );
    }
    this.id = o.id;
    this.cache = cache;
    this.policies = new SessionPolicies(
      {
        nodeId: o.id,
        state: new UserState(cache, o.clock),
        cache,
        store: o.store,
        clock: o.clock,
        peers: o.peers,
        membership: o.membership,
      },
      o.sessionPolicies,
    );
    this.maxQueued = o.maxQueued ?? NODE_DEFAULTS.maxQueued;
    this.maxQueuedBytes = o.maxQueuedBytes ?? NODE_DEFAULTS.maxQueuedBytes;
    const tracing = o.tracing === undefined ? undefined : new NodeTracing(o.tracing, o.id);
    const host = new NodeHost({
      id: o.id,
      ...(tracing !== undefined && { traceparent: (inv: string) => tracing.traceparent(inv) }),
      // The pool exists by the time a function runs and sends.
      deliver: (to, m, from, seq) => this.pool.deliver(to, m, from, seq),
      boxes: this.boxes,
      registry: o.registry,
      membership: o.membership,
      peers: o.peers,
      dispatcher: o.dispatcher,
      ...(o.txn !== undefined && { txn: o.txn }),
    });
    this.logs = new FunctionLogs(o.id, o.logs);
    this.overloads = new OverloadLog(o.log, "node.queue");
    this.pool = new ExecutorPool({
      ...o.pool,
      size: o.executors ?? NODE_DEFAULTS.executors,
      host: hostHandler(tracing === undefined ? host : tracing.traced(host)),
      onLog: (line) => this.functionLog(line),
    });
    this.cancelBook = new Cancels(this.pool);
    this.chains = new ChainRunner({
      id: o.id,
      pool: this.pool,
      policies: this.policies,
      registry: o.registry,
      boxes: this.boxes,
      cancels: this.cancelBook,
      peers: o.peers,
      store: o.store,
      clock: o.clock,
      maxValueBytes: o.maxValueBytes ?? DEFAULT_MAX_FRAME_BYTES - 1024 * 1024,
      fuse: o.fuse !== false,
      ...(o.observeStage && { observeStage: o.observeStage }),
      ...(tracing !== undefined && { tracing }),
    });
    this.heartbeat = new Heartbeat(o.store, o.clock, () => this.info(), o.heartbeatMs);
  }

  static async start(o: NodeOptions): Promise<Node> {
    const cache = await NodeCache.open(o.store, {
      prefix: KEYS.user,
      maxBytes: o.cacheBytes,
      lagInvalidationsMs: o.lagInvalidationsMs,
    });
    let node: Node;
    try {
      node = new Node(o, cache);
    } catch (e) {
      await cache.close();
      throw e;
    }
    // A node that fails to start (its workers, its first heartbeat) leaves nothing running.
    try {
      await node.pool.start();
      await node.heartbeat.start();
    } catch (e) {
      await node.close().catch(() => undefined);
      throw e;
    }
    return node;
  }

  /** Function log lines kept here that match `q` (a peer's `node.logs`). */
  readLogs(q: LogQuery): FunctionLogLine[] {
    return this.logs.read(q);
  }

  /** A console line from a function: kept, and written to the process's log. */
  private functionLog(w: WorkerLogLine): void {
    // The run id is what `stratus logs --run` and the dashboard name: the DAG run's, on every level.
    const run = w.run === undefined ? undefined : (w.run as RunSession).forward().run;
    const line = this.logs.add({
      level: w.level,
      msg: w.message,
      ...(w.fn !== undefined && { fn: w.fn }),
      ...(w.inv !== undefined && { inv: w.inv }),
      ...(run !== undefined && { run }),
    });
    const log = this.o.log;
    if (log === undefined) return;
    const { fn, inv } = line;
    log[line.level]({ event: "function.log", node: this.id, fn, run, inv }, line.msg);
  }

  /** Invocations cancelled (running or queued) and triggers ignored as cancelled. */
  get cancels(): CancelCounts {
    return this.cancelBook.counts;
  }

  /** What heartbeats announce. */
  info(): NodeInfo {
    const s = this.pool.stats();
    return {
      id: this.id,
      addr: this.o.addr,
      executors: s.size,
      // In executors: a call counts 1 / its function's concurrency (see ExecutorPoolStats.load).
      busy: s.load,
      queued: s.queued,
      cached: this.cache.top(),
      startedAt: this.startedAt,
    };
  }

  /** Executor and cache figures, for metrics. */
  stats(): {
    pool: ReturnType<ExecutorPool["stats"]>;
    cache: { hits: number; misses: number; keys: number; bytes: number };
  } {
    const { hits, misses } = this.cache;
    return { pool: this.pool.stats(), cache: { hits, misses, ...this.cache.size } };
  }

  /** Changes the number of executors. */
  async resize(n: number): Promise<void> {
    await this.pool.resize(n);
  }

  /** A trigger for a function placed here. */
  onTrigger(t: Trigger): void {
    if (Date.now() > t.meta.deadline) return;
    const me = t.schedule[t.fn];
    if (me === undefined) return;
    if (this.cancelBook.has(t.meta, t.fn)) {
      this.cancelBook.counts.ignored++;
      return;
    }
    let args: Uint8Array[] | undefined;
    let meta = t.meta;
    let timings = t.timings;
    if (t.args !== undefined) args = t.args;
    else if (t.from !== undefined && t.value !== undefined) {
      const arrived = this.joins.arrive(t.meta, t.fn, me, t.from, t.value, t.timings);
      if (arrived === undefined) return;
      args = arrived.args;
      timings = arrived.timings;
      // The first result fired an anyOf function: the other upstreams' work is wasted now.
      if (me.anyOf === true) this.cancelOthers(t, me);
      if (arrived.metas.length > 1) {
        try {
          meta = this.policies.for(t.meta.consistency).join(arrived.metas);
        } catch (e) {
          this.chains.reply(t, undefined, toWireError(e));
          return;
        }
      }
    }
    if (args === undefined) return;
    const { queued, queuedBytes } = this.chains;
    const bytes = argBytes(args);
    if (
      queued >= this.maxQueued ||
      (queuedBytes > 0 && queuedBytes + bytes > this.maxQueuedBytes)
    ) {
      const why = `node ${this.id} has ${queued} calls queued, with ${queuedBytes} bytes of arguments`;
      this.overloads.note(why);
      this.chains.reply(t, undefined, toWireError(new OverloadedError(why)));
      return;
    }
    // execute() answers its own failures; this catches what escapes it (a reply that could not
    // be built), which would otherwise be an unhandled rejection.
    const run = meta === t.meta && timings === t.timings ? t : { ...t, meta, timings };
    this.chains
      .execute(run, args)
      .catch((e: unknown) => this.chains.reply(run, undefined, toWireError(e)));
  }

  /** Tells the nodes of an anyOf function's other upstreams to cancel them. */
  private cancelOthers(t: Trigger, me: ScheduledFn): void {
    for (const p of me.prev) {
      if (p === t.from) continue;
      const addr = t.schedule[p]?.addr;
      if (addr === undefined) continue;
      const c: Cancel = {
        run: t.meta.run,
        attempt: t.meta.attempt,
        fn: p,
        deadline: t.meta.deadline,
      };
      this.o.peers.notify(addr, "cancel", c);
    }
  }

  /**
   * A cancel from the node where an anyOf function fired: the invocation of `c.fn` here stops
   * (running: its `ctx.signal` is aborted; queued: dropped) and its later trigger is ignored.
   */
  onCancel(c: Cancel): void {
    this.cancelBook.onCancel(c);
  }

  /** A direct message for a function running here. */
  onMessage(m: FnMessage): void {
    // Pushed into the executor running `to`; kept for a while if it is not (yet) running here.
    if (!this.pool.deliver(m.to, m.payload)) this.boxes.deliver(m.to, { m: m.payload });
  }

  /** A message between session policies of nodes (`consistency.fetch`, `consistency.release`). */
  onSession(method: string, payload: unknown): Promise<unknown> {
    return this.policies.handle(method, payload);
  }

  /** Stops heartbeating (removing the node from membership), then the executors. */
  async close(): Promise<void> {
    await this.heartbeat.stop();
    await this.pool.close();
    await this.policies.close();
    await this.cache.close();
  }
}

import {
  CancelledError,
  InvalidArgumentError,
  OverloadedError,
  TimeoutError,
  ValueTooLargeError,
  toWireError,
} from "../errors/index.js";
import type { WireError } from "../errors/index.js";
import { SessionPolicies } from "../consistency/index.js";
import type { RunSession, SessionPolicyFactory } from "../consistency/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import {
  DEFAULT_FUTURE_RETENTION_MS,
  Heartbeat,
  KEYS,
  futureNotStored,
  singleFunctionDag,
  storeFuture,
} from "../scheduler/index.js";
import { UserState } from "../state/index.js";
import type {
  Cancel,
  Dispatcher,
  FnMessage,
  Membership,
  NodeInfo,
  Peers,
  Registry,
  RunRequest,
  RunResult,
  ScheduledFn,
  Trigger,
} from "../scheduler/index.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/index.js";
import { NodeCache } from "../cache/index.js";
import { ExecutorPool } from "./executor/index.js";
import type {
  ExecutorPoolOptions,
  FunctionCode,
  HostInvocation,
  HostOp,
  Invocation,
} from "./executor/index.js";
import { NODE_DEFAULTS, isNodeId } from "./defaults.js";
import { Mailboxes } from "./mailbox.js";
import type { Letter } from "./mailbox.js";
import { Joins } from "./joins.js";

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
  /** Passed to the executor pool (time and memory limits). */
  pool?: Partial<Omit<ExecutorPoolOptions, "size" | "host">>;
  /**
   * The consistency levels this node offers besides `lww` (src/consistency, src/txn); a run at
   * another level fails with `INVALID_ARGUMENT`. @default []
   */
  sessionPolicies?: readonly SessionPolicyFactory[];
  /**
   * Serves `ctx.txn` (src/txn `FunctionTransactions`, passed in so that node/ does not import
   * src/txn). Without it `ctx.txn` fails with `INVALID_ARGUMENT`.
   */
  txn?: FunctionTxnHost;
}

/** What the node needs to serve `ctx.txn`: the `txn.*` methods, for a function in run `run`. */
export interface FunctionTxnHost {
  handle(method: string, payload: unknown, run: RunSession): Promise<unknown>;
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
  private readonly state: UserState;
  private readonly policies: SessionPolicies;
  private readonly boxes = new Mailboxes();
  private readonly joins = new Joins();
  private readonly heartbeat: Heartbeat;
  private readonly startedAt = Date.now();
  private seq = 0;
  private queued = 0;
  private queuedBytes = 0;
  /** Invocation ids by `run/attempt/fn`, while they are queued or running here. */
  private readonly running = new Map<string, string[]>();
  /** Cancelled `run/attempt/fn`s, until their run's deadline: their triggers are ignored. */
  private readonly cancelled = new Map<string, number>();
  /** Invocations cancelled (running or queued) and triggers ignored as cancelled. */
  readonly cancels = { received: 0, interrupted: 0, ignored: 0 };
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private readonly maxValueBytes: number;

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
    this.state = new UserState(cache, o.clock);
    this.policies = new SessionPolicies(
      {
        nodeId: o.id,
        state: this.state,
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
    this.maxValueBytes = o.maxValueBytes ?? DEFAULT_MAX_FRAME_BYTES - 1024 * 1024;
    this.pool = new ExecutorPool({
      ...o.pool,
      size: o.executors ?? NODE_DEFAULTS.executors,
      host: (op, args, inv) => this.host(op, args, inv),
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

  /** What heartbeats announce. */
  info(): NodeInfo {
    const s = this.pool.stats();
    return {
      id: this.id,
      addr: this.o.addr,
      executors: s.size,
      busy: s.busy,
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
    if (this.cancelled.has(runKey(t.meta, t.fn))) {
      this.cancels.ignored++;
      return;
    }
    let args: Uint8Array[] | undefined;
    let meta = t.meta;
    if (t.args !== undefined) args = t.args;
    else if (t.from !== undefined && t.value !== undefined) {
      const arrived = this.joins.arrive(t.meta, t.fn, me, t.from, t.value);
      if (arrived === undefined) return;
      args = arrived.args;
      // The first result fired an anyOf function: the other upstreams' work is wasted now.
      if (me.anyOf === true) this.cancelOthers(t, me);
      if (arrived.metas.length > 1) {
        try {
          meta = this.policies.for(t.meta.consistency).join(arrived.metas);
        } catch (e) {
          this.reply(t, undefined, toWireError(e));
          return;
        }
      }
    }
    if (args === undefined) return;
    const bytes = argBytes(args);
    if (
      this.queued >= this.maxQueued ||
      (this.queuedBytes > 0 && this.queuedBytes + bytes > this.maxQueuedBytes)
    ) {
      const why = `node ${this.id} has ${this.queued} calls queued, with ${this.queuedBytes} bytes of arguments`;
      this.reply(t, undefined, toWireError(new OverloadedError(why)));
      return;
    }
    // execute() answers its own failures; this catches what escapes it (a reply that could not
    // be built), which would otherwise be an unhandled rejection.
    const run = meta === t.meta ? t : { ...t, meta };
    this.execute(run, args).catch((e: unknown) => this.reply(run, undefined, toWireError(e)));
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
    this.cancels.received++;
    const key = `${c.run}/${c.attempt}/${c.fn}`;
    if (this.cancelled.size >= 10_000) {
      const now = Date.now();
      for (const [k, until] of this.cancelled) if (until < now) this.cancelled.delete(k);
      if (this.cancelled.size >= 10_000) return;
    }
    this.cancelled.set(key, c.deadline);
    const err = new CancelledError(`${c.fn} was cancelled: another upstream answered first`);
    for (const id of this.running.get(key) ?? []) {
      if (this.pool.cancel(id, err)) this.cancels.interrupted++;
    }
  }

  /** A direct message for a function running here. */
  onMessage(m: FnMessage): void {
    this.deliver(m.to, m.payload);
  }

  /** A message between session policies of nodes (`consistency.fetch`, `consistency.release`). */
  onSession(method: string, payload: unknown): Promise<unknown> {
    return this.policies.handle(method, payload);
  }

  /** Pushed into the executor running `to`; kept for a while if it is not (yet) running here. */
  private deliver(to: string, payload: Uint8Array): void {
    if (!this.pool.deliver(to, payload)) this.boxes.deliver(to, { m: payload });
  }

  /**
   * Runs `t.fn` and, in the same worker right after it, the linear stretch of the DAG that
   * follows it on this node (each next function with this one as its only upstream): results
   * inside the stretch never leave the worker. The last function's result goes on to the
   * downstream nodes, or to the gateway when it is the sink.
   */
  private async execute(t: Trigger, args: Uint8Array[]): Promise<void> {
    const chain = this.stretch(t);
    const ids = chain.map(() => `${this.id}.${(this.seq++).toString(36)}`);
    const keys = chain.map((fn) => runKey(t.meta, fn));
    keys.forEach((k, i) => this.running.set(k, [...(this.running.get(k) ?? []), ids[i] as string]));
    this.queued += chain.length;
    const bytes = argBytes(args);
    this.queuedBytes += bytes;
    let out: Uint8Array | undefined;
    let session: RunSession | undefined;
    try {
      session = this.policies.for(t.meta.consistency).open(t.meta);
      const codes = await Promise.all(chain.map((fn) => this.code(fn)));
      // A cancel that came while the code was being fetched found nothing in the pool to stop:
      // honour it here, before the invocation occupies an executor.
      if (keys.some((k) => this.cancelled.has(k))) {
        this.cancels.interrupted++;
        throw new CancelledError(`${t.fn} was cancelled before it started`);
      }
      const calls = codes.map((code, i) => ({
        id: ids[i] as string,
        code,
        args: i === 0 ? args : [],
        run: session,
        deadline: t.meta.deadline,
      }));
      const running =
        calls.length === 1
          ? [this.pool.invoke(calls[0] as Invocation)]
          : this.pool.invokeChain(calls, { intermediate: false }); // only the last one travels on
      // The first failure answers the run; the calls after it fail too and have nobody to tell.
      for (const p of running) p.catch(() => undefined);
      for (const id of ids)
        for (const l of this.boxes.drain(id)) this.pool.deliver(id, l.m, l.from, l.seq);
      for (const p of running) out = await p;
    } catch (e) {
      const last = chain[chain.length - 1] as string;
      if (session !== undefined && (t.schedule[last] as ScheduledFn).next.length === 0) {
        await session.finish(false).catch(() => undefined);
      }
      // A cancelled invocation has nobody to tell: the run goes on with the winner's result.
      if (!keys.some((k) => this.cancelled.has(k))) this.reply(t, undefined, toWireError(e, true));
      return;
    } finally {
      this.queued -= chain.length;
      this.queuedBytes -= bytes;
      keys.forEach((k, i) => {
        const left = (this.running.get(k) ?? []).filter((id) => id !== ids[i]);
        if (left.length === 0) this.running.delete(k);
        else this.running.set(k, left);
      });
    }
    if (keys.some((k) => this.cancelled.has(k))) return;
    if (out !== undefined && out.byteLength > this.maxValueBytes) {
      // It could not travel in a frame to the next node or the caller: say so instead.
      const fn = chain[chain.length - 1] as string;
      const err = new ValueTooLargeError(
        `the result of ${fn} is ${out.byteLength} bytes; the limit is ${this.maxValueBytes}`,
        { details: { fn, bytes: out.byteLength, limit: this.maxValueBytes } },
      );
      this.reply(t, undefined, toWireError(err));
      return;
    }
    const last = chain[chain.length - 1] as string;
    const next = (t.schedule[last] as ScheduledFn).next;
    if (next.length === 0) {
      // The level's last word (a commit) comes before the caller hears of the result.
      let recorded: Uint8Array | void;
      try {
        recorded = await session.finish(true, out);
      } catch (e) {
        this.reply(t, undefined, toWireError(e));
        return;
      }
      this.reply(t, recorded ?? out);
      return;
    }
    const meta = session.forward();
    for (const g of next) {
      const trigger: Trigger = {
        meta,
        schedule: t.schedule,
        fn: g,
        from: last,
        value: out,
      };
      // A trigger the link could not take (OVERLOADED) fails the run now, not at its deadline.
      this.o.peers.notify((t.schedule[g] as { addr: string }).addr, "trigger", trigger, (err) =>
        this.reply(t, undefined, toWireError(err)),
      );
    }
  }

  /** `t.fn` and the functions that follow it alone, on this node, one upstream each. */
  private stretch(t: Trigger): string[] {
    const chain = [t.fn];
    if (this.o.fuse === false) return chain;
    for (;;) {
      const cur = t.schedule[chain[chain.length - 1] as string];
      if (cur === undefined || cur.next.length !== 1) return chain;
      const g = cur.next[0] as string;
      const sg = t.schedule[g];
      if (sg === undefined || sg.node !== this.id || sg.prev.length !== 1 || sg.anyOf === true)
        return chain;
      if (chain.includes(g) || chain.length >= 64) return chain;
      chain.push(g);
    }
  }

  private async code(fn: string): Promise<FunctionCode> {
    const def = await this.o.registry.fn(fn);
    const code: FunctionCode = {
      name: def.name,
      version: def.version,
      kind: def.kind,
      source: def.source,
    };
    if (def.exportName !== undefined) code.exportName = def.exportName;
    if (def.init !== undefined) code.init = def.init;
    if (def.timeoutMs !== undefined) code.timeoutMs = def.timeoutMs;
    return code;
  }

  private reply(t: Trigger, v: Uint8Array | undefined, e?: WireError): void {
    const r: RunResult = {
      run: t.meta.run,
      attempt: t.meta.attempt,
      req: t.meta.reply.req,
      ok: e === undefined,
    };
    if (v !== undefined) r.v = v;
    if (e !== undefined) r.e = e;
    const { future, futureTtlMs } = t.meta.session;
    if (typeof future === "string" && v !== undefined) {
      // The sink makes the future durable before answering, so it resolves even if the
      // gateway that started the run is gone.
      const ttl =
        typeof futureTtlMs === "number" && futureTtlMs > 0
          ? futureTtlMs
          : DEFAULT_FUTURE_RETENTION_MS;
      // A result that cannot be stored fails the run: readers by id would wait for it forever.
      storeFuture(this.o.store, this.o.clock, future, { ok: true, v }, ttl).then(
        () => this.sendResult(t.meta.reply.addr, r),
        (err: unknown) => this.reply(t, undefined, futureNotStored(err, v.byteLength)),
      );
      return;
    }
    this.sendResult(t.meta.reply.addr, r);
  }

  /** A result the link could not take (OVERLOADED) is replaced by that error, which is small. */
  private sendResult(addr: string, r: RunResult): void {
    this.o.peers.notify(addr, "result", r, (err) => {
      const failed: RunResult = { run: r.run, attempt: r.attempt, req: r.req, ok: false };
      failed.e = toWireError(err);
      this.o.peers.notify(addr, "result", failed);
    });
  }

  /** Host calls from running functions (`ctx.get`, `ctx.send`, …). */
  private async host(op: HostOp, args: unknown[], inv: HostInvocation): Promise<unknown> {
    const session = inv.run as RunSession;
    switch (op) {
      case "get": {
        const r = await session.get(args[0]);
        if (r === undefined) return undefined;
        if (r.version === undefined) return r.bytes;
        // The executor already holding this version gets no bytes: nothing crosses threads.
        return args[1] === r.version ? { version: r.version } : r;
      }
      case "getLattice":
        return session.getLattice(args[0]);
      case "put":
        await session.put(args[0], bytes(args[1]));
        return undefined;
      case "merge":
        await session.merge(args[0], bytes(args[1]));
        return undefined;
      case "delete":
        await session.delete(args[0]);
        return undefined;
      case "runId": {
        const m = session.forward();
        const txn = m.session["txn"] as { id?: unknown } | undefined;
        return typeof txn?.id === "string" ? txn.id : m.run;
      }
      case "send":
        this.send(
          inv.id,
          String(args[0]),
          bytes(args[1]),
          typeof args[2] === "number" ? args[2] : undefined,
        );
        return undefined;
      case "call": {
        const name = String(args[0]);
        await this.o.registry.fn(name);
        const list = Array.isArray(args[1]) ? args[1].map(bytes) : [];
        // A nested run gets what is left of its caller's time, never a fresh default deadline.
        const left = inv.deadline - Date.now();
        if (!(left > 0))
          throw new TimeoutError(`nested call of ${name} from ${inv.fn}: no time left`);
        // The nested run continues the caller's: same level, and what its session carries so
        // far (not the caller's future, which only the caller's sink resolves).
        // A level may hand the call a session of its own (read-atomic: the caller's transaction,
        // joined) and take something back with its result (the call's writes).
        const meta = session.forward();
        const { future: _f, futureTtlMs: _t, ...carried } = session.nested?.() ?? meta.session;
        const run: RunRequest = {
          def: singleFunctionDag(name),
          inputs: { [name]: list },
          options: { consistency: meta.consistency },
          session: carried,
          nested: true,
        };
        // Keys the arguments reference: placement prefers the node caching them.
        const refs = Array.isArray(args[2])
          ? args[2]
              .filter((k): k is string => typeof k === "string" && k.length <= 1024)
              .slice(0, 64)
          : [];
        if (refs.length > 0) run.refs = { [name]: refs };
        if (Number.isFinite(left))
          run.options = { ...run.options, timeoutMs: Math.max(1, Math.floor(left)) };
        // The caller cancelled (or timed out): so is what it called.
        if (inv.signal !== undefined) run.signal = inv.signal;
        const out = await this.o.dispatcher.run(run);
        return session.returned?.(out) ?? out;
      }
      case "txn":
        if (this.o.txn === undefined) {
          throw new InvalidArgumentError("this node does not run transactions (ctx.txn)");
        }
        return this.o.txn.handle(String(args[0]), args[1], session);
      default:
        throw new InvalidArgumentError(`unknown host operation ${String(op)}`);
    }
  }

  private send(from: string, to: string, payload: Uint8Array, seq?: number): void {
    const dot = to.lastIndexOf(".");
    const node = dot > 0 ? to.slice(0, dot) : "";
    if (node === this.id) {
      // Numbered per sender, so the recipient's worker can order these with the ones the
      // sender's worker sends it directly.
      if (!this.pool.deliver(to, payload, from, seq)) {
        const letter: Letter = { m: payload, from };
        if (seq !== undefined) letter.seq = seq;
        if (!this.boxes.deliver(to, letter)) {
          throw new OverloadedError(
            `message to ${to} refused: messages waiting for recipients not running on ${this.id} are over their bound`,
          );
        }
      }
      return;
    }
    const m = this.o.membership.get(node);
    if (m === undefined) {
      throw new InvalidArgumentError(`cannot send to ${to}: node ${node || "?"} is not live`);
    }
    const msg: FnMessage = { to, from, payload };
    this.o.peers.notify(m.addr, "fnmsg", msg);
  }

  /** Stops heartbeating (removing the node from membership), then the executors. */
  async close(): Promise<void> {
    await this.heartbeat.stop();
    await this.pool.close();
    await this.policies.close();
    await this.cache.close();
  }
}

function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidArgumentError("expected encoded bytes");
  return v;
}

/** Identifies one function of one attempt of a run. */
function runKey(meta: { run: string; attempt: number }, fn: string): string {
  return `${meta.run}/${meta.attempt}/${fn}`;
}

function argBytes(args: readonly Uint8Array[]): number {
  let n = 0;
  for (const a of args) n += a.byteLength;
  return n;
}

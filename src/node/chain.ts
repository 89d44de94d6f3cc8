/**
 * Running what a trigger names: the function, and the linear stretch of the DAG after it that is
 * placed on this node too (a fused chain, run back to back in one worker), then passing the last
 * result on: to the downstream nodes, or to the gateway when it is the run's sink (making a
 * future durable first).
 */
import { CancelledError, ValueTooLargeError, toWireError } from "../errors/index.js";
import type { WireError } from "../errors/index.js";
import type { RunSession, SessionPolicies } from "../consistency/index.js";
import type { HybridClock } from "../lattice/index.js";
import { MAX_TIMINGS } from "../protocol/index.js";
import type { FnTiming, RunResult, ScheduledFn, Trigger } from "../protocol/index.js";
import { DEFAULT_FUTURE_RETENTION_MS, futureNotStored, storeFuture } from "../scheduler/index.js";
import type { Peers, Registry } from "../scheduler/index.js";
import type { Store } from "../storage/index.js";
import type { Cancels } from "./cancels.js";
import type { ExecutorPool, FunctionCode, Invocation } from "./executor/index.js";
import type { Mailboxes } from "./mailbox.js";
import type { NodeTracing } from "./tracing.js";

/** What a {@link ChainRunner} runs chains with. */
export interface ChainParts {
  /** This node's id: the prefix of its invocation ids. */
  id: string;
  pool: ExecutorPool;
  policies: SessionPolicies;
  registry: Registry;
  /** Messages that arrived for invocations before they started. */
  boxes: Mailboxes;
  cancels: Cancels;
  peers: Peers;
  /** Where futures are made durable. */
  store: Store;
  clock: HybridClock;
  /** Largest result that is sent on; larger ones fail the run with `VALUE_TOO_LARGE`. */
  maxValueBytes: number;
  /** Run a stretch of the DAG back to back in one worker. */
  fuse: boolean;
  /** Told of each settled invocation that was a stage of a DAG of several functions. */
  observeStage?: (fn: string) => void;
  /** Spans of invocations, when the process traces. */
  tracing?: NodeTracing;
}

/** Longest chain run in one worker. */
const MAX_CHAIN = 64;

/**
 * Runs triggered functions, chains them, and sends their results on.
 *
 * @example
 * ```ts
 * const chains = new ChainRunner({ id, pool, policies, registry, boxes, cancels, peers, store, clock, maxValueBytes, fuse: true });
 * chains.execute(trigger, args).catch((e) => chains.reply(trigger, undefined, toWireError(e)));
 * ```
 */
export class ChainRunner {
  private seq = 0;
  /** Invocations handed to the pool and not yet settled. */
  queued = 0;
  /** Bytes of the arguments of those invocations. */
  queuedBytes = 0;

  constructor(private readonly o: ChainParts) {}

  /**
   * Runs `t.fn` and, in the same worker right after it, the linear stretch of the DAG that
   * follows it on this node (each next function with this one as its only upstream): results
   * inside the stretch never leave the worker. The last function's result goes on to the
   * downstream nodes, or to the gateway when it is the sink.
   */
  async execute(t: Trigger, args: Uint8Array[]): Promise<void> {
    const chain = this.stretch(t);
    const stage = Object.keys(t.schedule).length > 1;
    // When each function of the chain ran, for the run's waterfall: passed on with the result.
    const mine: FnTiming[] = [];
    const timed = (): Trigger => {
      const timings = [...(t.timings ?? []), ...mine].slice(-MAX_TIMINGS);
      return timings.length === 0 ? t : { ...t, timings };
    };
    const ids = chain.map(() => `${this.o.id}.${(this.seq++).toString(36)}`);
    const { cancels } = this.o;
    const keys = cancels.track(t.meta, chain, ids);
    this.queued += chain.length;
    const bytes = argBytes(args);
    this.queuedBytes += bytes;
    let out: Uint8Array | undefined;
    let session: RunSession | undefined;
    let handed = false;
    try {
      session = this.o.policies.for(t.meta.consistency).open(t.meta);
      const codes = await Promise.all(chain.map((fn) => this.code(fn)));
      // A cancel that came while the code was being fetched found nothing in the pool to stop:
      // honour it here, before the invocation occupies an executor.
      if (cancels.any(keys)) {
        cancels.counts.interrupted++;
        throw new CancelledError(`${t.fn} was cancelled before it started`);
      }
      const calls: Invocation[] = codes.map((code, i) => ({
        id: ids[i] as string,
        code,
        args: i === 0 ? args : [],
        run: session,
        deadline: t.meta.deadline,
        writesBuffered: session?.buffersWrites === true,
      }));
      const { pool, tracing } = this.o;
      if (tracing !== undefined) {
        for (const c of calls) c.started = tracing.start(t, c.code.name, c.id);
      }
      const handedAt = Date.now();
      const running =
        calls.length === 1
          ? [pool.invoke(calls[0] as Invocation)]
          : pool.invokeChain(calls, { intermediate: false }); // only the last one travels on
      // The first failure answers the run; the calls after it fail too and have nobody to tell.
      for (const [i, p] of running.entries()) {
        const fn = chain[i] as string;
        const settled = (ok: boolean, e?: unknown): void => {
          // The pool observed the call before settling it: a stage is counted after its call.
          if (stage) this.o.observeStage?.(fn);
          const s = i === 0 ? handedAt : (mine[mine.length - 1]?.e ?? handedAt);
          mine.push({ fn, node: this.o.id, s, e: Date.now(), ok });
          if (tracing !== undefined) tracing.end(ids[i] as string, e);
        };
        p.then(
          () => settled(true),
          (e: unknown) => settled(false, e),
        );
      }
      handed = true;
      for (const id of ids)
        for (const l of this.o.boxes.drain(id)) pool.deliver(id, l.m, l.from, l.seq);
      for (const p of running) out = await p;
    } catch (e) {
      const last = chain[chain.length - 1] as string;
      if (session !== undefined && (t.schedule[last] as ScheduledFn).next.length === 0) {
        await session.finish(false).catch(() => undefined);
      }
      // A cancelled invocation has nobody to tell: the run goes on with the winner's result.
      if (!cancels.any(keys)) this.reply(timed(), undefined, toWireError(e, true));
      return;
    } finally {
      this.queued -= chain.length;
      this.queuedBytes -= bytes;
      cancels.untrack(keys, ids);
      // Spans of invocations that never reached the pool (their code could not be read).
      if (this.o.tracing !== undefined && !handed) for (const id of ids) this.o.tracing.end(id);
    }
    if (cancels.any(keys)) return;
    if (out !== undefined && out.byteLength > this.o.maxValueBytes) {
      // It could not travel in a frame to the next node or the caller: say so instead.
      const fn = chain[chain.length - 1] as string;
      const limit = this.o.maxValueBytes;
      const err = new ValueTooLargeError(
        `the result of ${fn} is ${out.byteLength} bytes; the limit is ${limit}`,
        { details: { fn, bytes: out.byteLength, limit } },
      );
      this.reply(timed(), undefined, toWireError(err));
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
        this.reply(timed(), undefined, toWireError(e));
        return;
      }
      this.reply(timed(), recorded ?? out);
      return;
    }
    const meta = session.forward();
    const { timings } = timed();
    for (const g of next) {
      const trigger: Trigger = { meta, schedule: t.schedule, fn: g, from: last, value: out };
      if (timings !== undefined) trigger.timings = timings;
      // A trigger the link could not take (OVERLOADED) fails the run now, not at its deadline.
      this.o.peers.notify((t.schedule[g] as { addr: string }).addr, "trigger", trigger, (err) =>
        this.reply(t, undefined, toWireError(err)),
      );
    }
  }

  /** `t.fn` and the functions that follow it alone, on this node, one upstream each. */
  private stretch(t: Trigger): string[] {
    const chain = [t.fn];
    if (!this.o.fuse) return chain;
    for (;;) {
      const cur = t.schedule[chain[chain.length - 1] as string];
      if (cur === undefined || cur.next.length !== 1) return chain;
      const g = cur.next[0] as string;
      const sg = t.schedule[g];
      if (sg === undefined || sg.node !== this.o.id || sg.prev.length !== 1 || sg.anyOf === true)
        return chain;
      if (chain.includes(g) || chain.length >= MAX_CHAIN) return chain;
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
    if (def.concurrency !== undefined) code.concurrency = def.concurrency;
    return code;
  }

  /** Answers the gateway that started `t`'s run: with its result `v`, or its error `e`. */
  reply(t: Trigger, v: Uint8Array | undefined, e?: WireError): void {
    const r: RunResult = {
      run: t.meta.run,
      attempt: t.meta.attempt,
      req: t.meta.reply.req,
      ok: e === undefined,
    };
    if (v !== undefined) r.v = v;
    if (e !== undefined) r.e = e;
    if (t.timings !== undefined && t.timings.length > 0) r.timings = t.timings;
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
}

/** Bytes of a list of encoded arguments. */
export function argBytes(args: readonly Uint8Array[]): number {
  let n = 0;
  for (const a of args) n += a.byteLength;
  return n;
}

import { randomUUID } from "node:crypto";
import {
  BadDagError,
  ClosedError,
  NodeLostError,
  OverloadedError,
  TimeoutError,
  ensureError,
  fromWireError,
  isStratusError,
  reaction,
} from "../errors/index.js";
import { buildSchedule, dagShape } from "./dag.js";
import type { Peers } from "./peers.js";
import type { PlacementRequest, Placer } from "./placement.js";
import type {
  Cancel,
  Consistency,
  DagDef,
  FnTiming,
  RunMeta,
  RunRequestOptions,
  RunResult,
  SessionSlots,
  Trigger,
} from "../protocol/index.js";
import { RecentRuns } from "./recent.js";
import type { FinishedRun } from "./recent.js";
import type { Logger } from "pino";
import { OverloadLog, SpanKind, lifecycle } from "../observe/index.js";
import type { Span, Tracing } from "../observe/index.js";
import { DEFAULT_RUN_TIMEOUT_MS, nameMap } from "../protocol/index.js";

/** Retries of a run whose node was lost, when the options give none. */
export const DEFAULT_MAX_RETRIES = 2;

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  /** This process's address: sinks send results here. */
  addr: string;
  peers: Peers;
  placer: Placer;
  /** Retries of a run whose node was lost. @default {@link DEFAULT_MAX_RETRIES} (2) */
  maxRetries?: number;
  /** Deadline of a call when the caller gives none. @default {@link DEFAULT_RUN_TIMEOUT_MS} */
  defaultTimeoutMs?: number;
  /**
   * Bytes of caller arguments the runs in flight may hold in all (each run keeps its arguments
   * until answered, to relaunch after a node loss); past it a run is refused with `OVERLOADED`,
   * retryable. One run is always taken when none is in flight. @default 1 GiB
   */
  maxInFlightBytes?: number;
  /**
   * Told of every finished run (latency as callers see it, for statistics): the DAG's name (a
   * single call's is its function's), ms from start to answer, and whether it returned.
   */
  observe?: (name: string, ms: number, ok: boolean) => void;
  /** Where finished runs are noted (for the dashboard). @default a new RecentRuns() */
  recent?: RecentRuns;
  /**
   * Called before a run is launched again after a node loss, with its next attempt's meta. For
   * runs it returns undefined for, the run relaunches at once; otherwise it waits for the
   * promise: a new meta to launch with (a read-atomic run fences its superseded attempt first),
   * or the result an earlier attempt already committed.
   */
  relaunch?: (meta: RunMeta) => Promise<{ meta: RunMeta } | { result: Uint8Array }> | undefined;
  /** Where retries, relaunches, fencing and overload are written (src/observe's events). */
  log?: Logger;
  /**
   * Traces runs: each gets a span (a child of `options.traceparent`), named to its nodes in
   * `RunMeta.tp`. @default none
   */
  tracing?: Tracing;
}

/** What a run needs: a DAG (a single call is a DAG of one) and the sources' arguments. */
export interface RunRequest {
  def: DagDef;
  inputs: Record<string, Uint8Array[]>;
  /** Stored keys referenced by each function's arguments, for locality. */
  refs?: Record<string, string[]>;
  options?: RunRequestOptions;
  /** Future id: the sink also stores the result under it. */
  future?: string;
  session?: SessionSlots;
  /**
   * A nested call (`ctx.call`): it reads its caller's snapshot, so a snapshot conflict is the
   * caller's to resolve (its whole run starts again), not retried here.
   */
  nested?: boolean;
  /**
   * Aborting it cancels the run: the nodes its functions were placed on are told to stop them
   * (their `ctx.signal`s abort), and the run fails at once with the signal's reason.
   */
  signal?: AbortSignal;
}

interface Pending {
  req: RunRequest;
  meta: RunMeta;
  nodes: Set<string>;
  resolve: (v: Uint8Array) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  placed: Record<string, string>;
  /** Each function's node address, for cancels. */
  addrs: Record<string, string>;
  /** Removes the listener on `req.signal`. */
  unlisten?: () => void;
  startedAt: number;
  started: number;
  /** Bytes of `req.inputs`. */
  bytes: number;
  /** The run's span, when tracing. */
  span?: Span;
}

/**
 * Runs calls and DAGs: places every function up front, sends the schedule with the first
 * triggers, and waits for the sink's answer. Results and failures come back as `result`
 * notifications; a lost node makes its runs start again elsewhere (at-least-once) until
 * `maxRetries` is spent, and every run has a deadline, so a caller always gets an answer.
 *
 * @example
 * ```ts
 * const d = new Dispatcher({ addr: server.url, peers, placer });
 * const bytes = await d.run({ def: singleFunctionDag("inc"), inputs: { inc: [encodeValue(1)] } });
 * ```
 */
export class Dispatcher {
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private readonly maxRetries: number;
  private readonly defaultTimeoutMs: number;
  private readonly maxInFlightBytes: number;
  private inFlightBytes = 0;
  private closed = false;
  /** Counters since start: runs started, answered with a result, failed, and retries. */
  readonly counts = { started: 0, ok: 0, failed: 0, retries: 0 };
  /** The last runs this dispatcher finished, and per-name rates and latency. */
  readonly recent: RecentRuns;

  constructor(private readonly options: DispatcherOptions) {
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    this.maxInFlightBytes = options.maxInFlightBytes ?? 1024 * 1024 * 1024;
    this.recent = options.recent ?? new RecentRuns();
    this.overloads = new OverloadLog(options.log, "dispatcher.inFlightBytes");
  }

  private readonly overloads: OverloadLog;

  /** A lifecycle record about run `p`. */
  private runEvent(
    event: "run.retried" | "run.relaunched" | "run.abandoned" | "run.fenced",
    p: Pending,
    fields: Record<string, unknown>,
    msg: string,
  ): void {
    const f = { run: p.meta.run, dag: p.req.def.name, attempt: p.meta.attempt, ...fields };
    lifecycle(this.options.log, event, f, msg);
  }

  /** Runs one request to completion and returns the sink's encoded result. */
  run(req: RunRequest): Promise<Uint8Array> {
    if (this.closed) {
      return Promise.reject(new ClosedError("the scheduler is shutting down", { retryable: true }));
    }
    const srcs = new Set(dagShape(req.def).sources);
    for (const f of Object.keys(req.inputs)) {
      if (!srcs.has(f)) {
        throw new BadDagError(
          `DAG ${req.def.name}: ${f} is not a source function, so it takes no caller arguments (sources: ${[...srcs].join(", ")})`,
        );
      }
    }
    const signal = req.signal;
    if (signal?.aborted === true) return Promise.reject(ensureError(signal.reason));
    let bytes = 0;
    for (const args of Object.values(req.inputs)) for (const a of args) bytes += a.byteLength;
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.maxInFlightBytes) {
      const why = `${this.pending.size} runs in flight hold ${this.inFlightBytes} bytes of arguments; ${req.def.name}'s ${bytes} more would pass the limit of ${this.maxInFlightBytes}`;
      this.overloads.note(why);
      return Promise.reject(new OverloadedError(why));
    }
    const timeoutMs = req.options?.timeoutMs ?? this.defaultTimeoutMs;
    const id = this.nextReq++;
    this.counts.started++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.finish(
          id,
          undefined,
          new TimeoutError(`run of ${req.def.name} did not finish within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const meta: RunMeta = {
        run: randomUUID(),
        attempt: 0,
        dag: req.def.name,
        consistency: (req.options?.consistency ??
          req.def.consistency ??
          "lww") satisfies Consistency,
        deadline: Date.now() + timeoutMs,
        reply: { addr: this.options.addr, req: id },
        session: req.session ?? {},
      };
      if (req.future !== undefined) meta.session = { ...meta.session, future: req.future };
      const tracing = this.options.tracing;
      let span: Span | undefined;
      if (tracing !== undefined) {
        span = tracing.span(
          `${req.nested === true ? "call" : "run"} ${req.def.name}`,
          req.options?.traceparent,
          {
            "stratus.run": meta.run,
            "stratus.dag": req.def.name,
            "stratus.consistency": meta.consistency,
          },
          req.nested === true ? SpanKind.CLIENT : SpanKind.SERVER,
        );
        meta.tp = tracing.traceparent(span);
      }
      const p: Pending = {
        req,
        meta,
        nodes: new Set(),
        resolve,
        reject,
        timer,
        placed: nameMap<string>(),
        addrs: nameMap<string>(),
        startedAt: Date.now(),
        started: performance.now(),
        bytes,
      };
      if (span !== undefined) p.span = span;
      this.pending.set(id, p);
      this.inFlightBytes += bytes;
      if (signal !== undefined) {
        const onAbort = (): void => this.cancelRun(id, ensureError(signal.reason));
        signal.addEventListener("abort", onAbort, { once: true });
        p.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      try {
        this.launch(p);
      } catch (e) {
        this.finish(id, undefined, e as Error);
      }
    });
  }

  /** A `result` notification from a sink. */
  onResult(r: RunResult): void {
    const p = this.pending.get(r.req);
    if (p === undefined || p.meta.run !== r.run) return;
    // An error from an attempt already superseded by a retry is stale; a success is not.
    if (!r.ok && r.attempt < p.meta.attempt) return;
    if (!r.ok && this.retryOnResult(r.req, p, r)) return;
    if (r.ok) this.finish(r.req, r.v ?? new Uint8Array(0), undefined, r.timings);
    else this.finish(r.req, undefined, fromWireError(r.e), r.timings);
  }

  /**
   * A run that failed because a consistency level's snapshot could not be served (a pinned
   * version's node unreachable, no version fitting a transactional-causal snapshot) starts again
   * as a new attempt with a fresh session, away from an unreachable node; true when it did.
   */
  private retryOnResult(id: number, p: Pending, r: RunResult): boolean {
    const code = r.e?.code;
    const limit = code === "SNAPSHOT_CONFLICT" ? this.maxRetries + 8 : this.maxRetries;
    // A nested run reads through its caller's snapshot: a conflict there is the caller's to
    // relaunch, with a fresh snapshot, not this run's.
    const nestedConflict = code === "SNAPSHOT_CONFLICT" && p.req.nested === true;
    if (reaction(r.e) !== "relaunch" || nestedConflict || p.meta.attempt >= limit) return false;
    const node = r.e?.details?.["node"];
    p.meta = { ...p.meta, attempt: p.meta.attempt + 1 };
    this.counts.retries++;
    this.runEvent(
      "run.retried",
      p,
      { reason: code, node },
      `run ${p.meta.run} of ${p.req.def.name} retried (${code ?? "?"})`,
    );
    // Fenced: another attempt of the same request (a resend the client did not mark as a retry)
    // holds a newer epoch. Superseding it returns what it committed, or runs again past it; without
    // that, resends at epoch 1 would each find the fence and never finish.
    this.relaunch(id, p, typeof node === "string" ? new Set([node]) : undefined);
    return true;
  }

  /** Retries (elsewhere) every run that had a function on the lost node. */
  onNodeLost(node: string): void {
    this.options.placer.forget(node);
    for (const [id, p] of this.pending) {
      if (!p.nodes.has(node)) continue;
      if (p.meta.attempt >= this.maxRetries) {
        this.runEvent(
          "run.abandoned",
          p,
          { attempts: p.meta.attempt + 1, node },
          `run ${p.meta.run} of ${p.req.def.name} failed: node ${node} lost after ${p.meta.attempt + 1} attempts`,
        );
        this.finish(
          id,
          undefined,
          new NodeLostError(
            `node ${node} was lost while running ${p.req.def.name}; gave up after ${p.meta.attempt + 1} attempts`,
            { details: { node, attempts: p.meta.attempt + 1 } },
          ),
        );
        continue;
      }
      p.meta = { ...p.meta, attempt: p.meta.attempt + 1 };
      this.counts.retries++;
      this.runEvent(
        "run.relaunched",
        p,
        { reason: "node lost", node },
        `run ${p.meta.run} of ${p.req.def.name} relaunched: node ${node} was lost`,
      );
      this.relaunch(id, p, new Set([node]));
    }
  }

  /**
   * Launches attempt `p.meta.attempt` of run `id`, away from `exclude`. A run whose level fences
   * superseded attempts (read-atomic) fences first, and may find the result an earlier attempt
   * committed instead.
   */
  private relaunch(id: number, p: Pending, exclude: ReadonlySet<string> | undefined): void {
    const fencing = this.options.relaunch?.(p.meta);
    if (fencing === undefined) {
      try {
        this.launch(p, exclude);
      } catch (e) {
        this.finish(id, undefined, e as Error);
      }
      return;
    }
    const attempt = p.meta.attempt;
    fencing
      .then(
        (r) => {
          // Settled meanwhile, or relaunched again by a later loss: this answer is stale.
          if (this.pending.get(id) !== p || p.meta.attempt !== attempt) return;
          const outcome = "result" in r ? "committed" : "relaunched";
          this.runEvent(
            "run.fenced",
            p,
            { outcome },
            `run ${p.meta.run} of ${p.req.def.name}: attempts before ${attempt} fenced (${outcome})`,
          );
          if ("result" in r) return this.finish(id, r.result);
          p.meta = r.meta;
          this.launch(p, exclude);
        },
        (e: unknown) => this.finish(id, undefined, e as Error),
      )
      .catch((e: unknown) => this.finish(id, undefined, e as Error));
  }

  /** Runs in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  private launch(p: Pending, exclude?: ReadonlySet<string>): void {
    const { def } = p.req;
    const shape = dagShape(def);
    const reqs: PlacementRequest[] = shape.order.map((fn) => {
      const up = shape.upstream.get(fn);
      const r: PlacementRequest = { fn, refs: p.req.refs?.[fn] ?? [] };
      if (up !== undefined) r.upstream = up;
      return r;
    });
    const placed = this.options.placer.place(reqs, exclude);
    this.release(p);
    const where = nameMap<{ node: string; addr: string }>();
    for (const [fn, m] of Object.entries(placed)) {
      where[fn] = { node: m.id, addr: m.addr };
      p.placed[fn] = m.id;
      p.addrs[fn] = m.addr;
      if (!p.nodes.has(m.id)) {
        p.nodes.add(m.id);
        this.options.placer.sent(m.id);
      }
    }
    const schedule = buildSchedule(def, where);
    // The run's home: the node of its first source. Levels that keep one snapshot per run
    // (read-atomic) read there from every node, whichever branch or source reads.
    const first = where[shape.sources[0] as string] as { node: string; addr: string };
    const meta: RunMeta = { ...p.meta, home: { node: first.node, addr: first.addr } };
    const { attempt } = p.meta;
    // A trigger the link could not take (a burst past its send queue) fails this run alone, at
    // once and retryable, instead of leaving it to its deadline; the node is not lost for it.
    const dropped = (err: Error): void => {
      const now = this.pending.get(p.meta.reply.req);
      if (now === p && p.meta.attempt === attempt) this.finish(p.meta.reply.req, undefined, err);
    };
    for (const fn of shape.sources) {
      const t: Trigger = { meta, schedule, fn, args: p.req.inputs[fn] ?? [] };
      this.options.peers.notify((schedule[fn] as { addr: string }).addr, "trigger", t, dropped);
    }
  }

  private release(p: Pending): void {
    for (const n of p.nodes) this.options.placer.done(n);
    p.nodes.clear();
  }

  /** Where each function of a pending run was placed (for `status` and tests). */
  placements(req: number): Record<string, string> | undefined {
    return this.pending.get(req)?.placed;
  }

  /**
   * Cancels the run in flight whose run id is `run`: its nodes stop its functions and it fails
   * with `err`. False when no such run is in flight here.
   */
  cancel(run: string, err: Error): boolean {
    for (const [id, p] of this.pending) {
      if (p.meta.run === run) {
        this.cancelRun(id, err);
        return true;
      }
    }
    return false;
  }

  /** The caller cancelled run `id`: its nodes stop its functions, and it fails with `err`. */
  private cancelRun(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    const { run, attempt, deadline } = p.meta;
    for (const [fn, addr] of Object.entries(p.addrs)) {
      const c: Cancel = { run, attempt, fn, deadline };
      this.options.peers.notify(addr, "cancel", c);
    }
    this.finish(id, undefined, err);
  }

  private finish(id: number, v: Uint8Array | undefined, err?: Error, timings?: FnTiming[]): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    this.inFlightBytes -= p.bytes;
    p.unlisten?.();
    clearTimeout(p.timer);
    this.release(p);
    this.options.observe?.(p.req.def.name, performance.now() - p.started, err === undefined);
    if (p.span !== undefined) {
      p.span.setAttribute("stratus.attempts", p.meta.attempt + 1);
      this.options.tracing?.end(p.span, err);
    }
    this.note(p, err, timings);
    if (err !== undefined) {
      this.counts.failed++;
      p.reject(err);
    } else {
      this.counts.ok++;
      p.resolve(v as Uint8Array);
    }
  }

  private note(p: Pending, err: Error | undefined, timings: FnTiming[] | undefined): void {
    const { def } = p.req;
    const single =
      def.edges.length === 0 && def.functions.length === 1 && def.functions[0] === def.name;
    this.recent.record({
      run: p.meta.run,
      name: def.name,
      kind: single ? "call" : "dag",
      startedAt: p.startedAt,
      ms: performance.now() - p.started,
      ok: err === undefined,
      attempts: p.meta.attempt + 1,
      consistency: p.meta.consistency,
      placed: { ...p.placed },
      timings: timings ?? [],
      ...(err !== undefined && { error: runError(err) }),
    });
  }

  /** Fails every pending run with `CLOSED`. */
  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) {
      this.finish(
        id,
        undefined,
        new ClosedError("the scheduler is shutting down", { retryable: true }),
      );
    }
  }
}

/** What a finished run keeps of its error: code, message and the stack (user code's, if it threw). */
function runError(err: Error): NonNullable<FinishedRun["error"]> {
  const out: NonNullable<FinishedRun["error"]> = {
    code: isStratusError(err) ? err.code : "INTERNAL",
    message: err.message.slice(0, 500),
  };
  const fromUser = isStratusError(err) ? err.details?.["stack"] : undefined;
  const stack = typeof fromUser === "string" ? fromUser : err.stack;
  if (stack !== undefined) out.stack = stack.slice(0, 4000);
  return out;
}

/** The DAG that runs one function on its own. */
export function singleFunctionDag(fn: string): DagDef {
  return { name: fn, functions: [fn], edges: [], anyOf: [] };
}

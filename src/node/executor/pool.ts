/**
 * The executor pool: worker threads that run user functions, each up to its function's
 * `concurrency` invocations at once while they await.
 *
 * Scheduling: one FIFO queue for the pool; a call goes to a worker where it starts at once
 * (least loaded first, then one that knows the code), else one where it would wait behind no more
 * than `pipelineDepth - 1` others, so a worker never idles waiting for the main thread. The
 * worker starts what it is given in posting order by one rule (types.ts `mayStart`) that the
 * pool mirrors (`Slot.advance`), so the pool knows which invocations run without asking; every
 * message either way names its invocation, and each running one has its own time limit (one
 * timer per worker, set for the earliest).
 *
 * Nested calls: a call waiting on `ctx.call` holds its place in its worker. A worker whose
 * running calls all wait on nested calls and that cannot start the next queued call is parked:
 * it is handed no calls that would wait behind them, and while every worker is parked and calls
 * are queued, the pool lends one more worker, up to `maxExtraWorkers`, so the callee (which is
 * queued behind its caller) always gets a thread: `outer -> mid -> leaf` runs on a one-executor
 * node with two lent workers when the functions have `concurrency: 1`. Extra workers are retired
 * as soon as they are idle and no longer covered by a parked one. Why lending and not running the
 * callee inside the parked worker regardless of its concurrency: the callee then keeps its own
 * time limit, memory limit and failure isolation (a callee that loops or runs out of memory loses
 * its own worker, not its caller's), and a callee placed on another node is the same case as one
 * placed here. Past the bound nested calls wait, and their deadlines fail them.
 */
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import {
  ClosedError,
  InvalidArgumentError,
  StratusError,
  backoffMs,
  fromWireError,
} from "../../errors/index.js";
import {
  answerHostCall,
  checkInvocation,
  lateError,
  runEndedError,
  timeoutError,
  toWorker,
} from "./calls.js";
import { lostWorkerError, sortLost } from "./loss.js";
import { Deque } from "./deque.js";
import { positiveInt, resolvePoolOptions } from "./options.js";
import type { ResolvedPoolOptions } from "./options.js";
import { Job, startJob } from "./job.js";
import { Slot, link } from "./slot.js";
import { Lending } from "./lending.js";
import { forwardLogLine } from "./log-line.js";
import { ownBytes } from "./types.js";
import type { HostHandler } from "./host-calls.js";
import type {
  ChainOptions,
  ExecutorPoolOptions,
  ExecutorPoolStats,
  Invocation,
  InvocationObserver,
  MailMsg,
  RunMsg,
  UpMsg,
  AbortMsg,
  WorkerLogObserver,
} from "./types.js";

// Workers force a full collection before failing a call for external memory (memory.ts): the
// flag must be set before their isolates exist, and setting it here, once, races with none.
setFlagsFromString("--expose-gc");

/**
 * A pool of executor workers.
 *
 * @example
 * ```ts
 * const pool = new ExecutorPool({ size: 2, host: async () => undefined });
 * await pool.start();
 * const code = { name: "inc", version: "1", kind: "source", source: "(ctx, x) => x + 1" } as const;
 * const out = await pool.invoke({ id: "call-1", code, args: [encodeValue(41)] });
 * decodeValue(out); // 42
 * await pool.close();
 * ```
 */
export class ExecutorPool {
  private readonly host: HostHandler;
  private readonly observe: InvocationObserver | undefined;
  private readonly onLog: WorkerLogObserver | undefined;
  private readonly o: ResolvedPoolOptions;
  private readonly queue = new Deque<Job>();
  /** Calls not yet settled, by invocation id, so messages can find them. */
  private readonly jobs = new Map<string, Job>();
  /** Calls cancelled while queued: skipped when their turn comes. */
  private readonly dropped = new WeakSet<Job>();
  private slots: Slot[] = [];
  private target: number;
  private completed = 0;
  private closed = false;
  private bootFailures = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private readonly lending: Lending;

  constructor(opts: ExecutorPoolOptions) {
    this.o = resolvePoolOptions(opts);
    this.target = opts.size;
    this.host = opts.host;
    this.observe = opts.observe;
    this.lending = new Lending(
      {
        slots: () => this.slots,
        target: () => this.target,
        closed: () => this.closed,
        next: () => this.queue.peek(),
        spawn: () => this.spawn(),
        pump: () => this.pump(),
      },
      this.o.maxExtra,
    );
    this.onLog = opts.onLog;
  }

  private get externalBytes(): number {
    return Math.floor(this.o.externalMb * 1024 * 1024);
  }

  /** Target number of workers. */
  get size(): number {
    return this.target;
  }

  /** Starts the workers; resolves when all are ready to run code. */
  async start(): Promise<void> {
    if (this.closed) throw new ClosedError("executor pool is closed");
    const fresh = this.fill();
    try {
      await Promise.all(fresh.map((s) => s.booted));
    } catch (e) {
      if (this.closed) throw new ClosedError("executor pool was closed while starting");
      await this.close();
      throw new StratusError("INTERNAL", `executor workers failed to start: ${String(e)}`, {
        cause: e,
      });
    }
  }

  /**
   * Runs one call; resolves with the encoded return value. Rejects with FUNCTION_ERROR (user code
   * threw), FUNCTION_TIMEOUT, FUNCTION_OOM, BAD_FUNCTION (does not compile), the code of a
   * StratusError a host call raised, or CLOSED.
   */
  invoke(call: Invocation): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new ClosedError("executor pool is closed"));
    const bad = checkInvocation(call);
    if (bad !== undefined) return Promise.reject(bad);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.queue.push(this.job(call, resolve, reject));
      this.pump();
    });
  }

  /**
   * Runs a chain of calls back to back in one worker: each call after the first gets the result
   * of the one before it as its first argument, without that result leaving the worker. This is
   * how a node runs a DAG's linear stretch placed on it, saving two thread hops per edge. Each
   * call still has its own id, time limit and outcome; a call after a failed one fails too.
   * With `{ intermediate: false }` every call but the last resolves with empty bytes: their
   * results then never leave the worker at all, which saves a copy of each.
   */
  invokeChain(calls: Invocation[], options?: ChainOptions): Promise<Uint8Array>[] {
    const bad = this.closed
      ? new ClosedError("executor pool is closed")
      : calls.map(checkInvocation).find((e) => e !== undefined);
    if (bad !== undefined || calls.length === 0) {
      return calls.map(() => Promise.reject(bad ?? new ClosedError("empty chain")));
    }
    const jobs: Job[] = [];
    const out = calls.map(
      (call) =>
        new Promise<Uint8Array>((resolve, reject) => {
          jobs.push(this.job(call, resolve, reject));
        }),
    );
    const [head, ...rest] = jobs as [Job, ...Job[]];
    jobs.forEach((j, i) => {
      if (i > 0) j.upstream = jobs[i - 1];
      if (i < jobs.length - 1) j.keep = options?.intermediate === false ? "drop" : true;
    });
    if (rest.length > 0) head.dependents = rest;
    this.queue.push(head);
    this.pump();
    return out;
  }

  private job(call: Invocation, resolve: (b: Uint8Array) => void, reject: (e: Error) => void): Job {
    // The operator's cap wins over what the function asked for.
    const timeoutMs = Math.min(call.code.timeoutMs ?? this.o.defaultTimeoutMs, this.o.maxTimeoutMs);
    const conc = Math.min(
      call.code.concurrency ?? this.o.defaultConcurrency,
      this.o.maxConcurrency,
    );
    const job = new Job(call, timeoutMs, conc, resolve, reject, (settled, ok) => {
      this.jobs.delete(call.id);
      this.observed(settled, ok);
    });
    this.jobs.set(call.id, job);
    return job;
  }

  /** Tells the observer how long `job` waited for its worker and how long it took in all. */
  private observed(job: Job, ok: boolean): void {
    const observe = this.observe;
    if (observe === undefined) return;
    const now = performance.now();
    const started = job.startedAt ?? now;
    observe(job.call.code.name, started - job.queuedAt, now - job.queuedAt, ok);
  }

  /**
   * Pushes a message to an invocation that is queued or running here, so its `ctx.recv` is served
   * inside the worker. False when no such invocation is in this pool (the caller keeps it).
   */
  deliver(invocationId: string, msg: Uint8Array, from?: string, seq?: number): boolean {
    const job = this.jobs.get(invocationId);
    if (job === undefined) return false;
    const mail: MailMsg = { t: "mail", inv: invocationId, m: ownBytes(msg) };
    if (from !== undefined && seq !== undefined) {
      mail.f = from;
      mail.s = seq;
    }
    (job.mail ??= []).push(mail);
    // Kept only to re-post if the worker is replaced: bounded like any mailbox.
    if (job.mail.length > 10_000) job.mail.shift();
    const slot = job.slot;
    if (slot !== undefined && !slot.dead) {
      slot.post(mail);
      // Tell the sender's worker where the recipient runs: its next messages go direct.
      const sender = from === undefined ? undefined : this.jobs.get(from)?.slot;
      if (sender !== undefined && !sender.dead && sender !== slot) {
        link(sender, slot);
        sender.post({ t: "route", inv: invocationId, slot: slot.num });
      }
    }
    return true;
  }

  /**
   * Cancels an invocation, rejecting it with `err` at once. A queued one is dropped. One in a
   * worker (running, or posted behind the running call) is stopped cooperatively: its
   * `ctx.signal` is aborted (one not yet started never runs), its host calls are refused, its
   * answer is dropped, and its worker runs the next call as soon as it settles; only a function
   * that has not settled `cancelGraceMs` later costs its worker, terminated and replaced. False
   * when the invocation is not here.
   */
  cancel(invocationId: string, err: Error): boolean {
    const job = this.jobs.get(invocationId);
    if (job === undefined) return false;
    const slot = job.slot;
    if (slot === undefined || slot.dead) {
      this.dropped.add(job);
      job.reject(err);
      for (const d of job.dependents ?? []) d.reject(err);
      return true;
    }
    this.abandon(slot, job, "CANCELLED", err);
    return true;
  }

  /** Answers `job` with `err` now and tells its worker to stop it (see `cancel`). */
  private abandon(slot: Slot, job: Job, code: AbortMsg["code"], err: Error): void {
    if (job.abandoned !== undefined) return;
    job.abandoned = err;
    job.reject(err);
    job.stop?.abort(err);
    slot.post({ t: "abort", inv: job.call.id, code, why: err.message });
    // The rest of its chain, posted behind it in the same worker, would only fail after it.
    for (const d of job.dependents ?? []) {
      if (d.slot === slot) this.abandon(slot, d, code, err);
      else d.reject(err);
    }
    if (job.started === true) this.graceFor(slot, job);
  }

  /** A running call of `slot` was told to stop: it has `cancelGraceMs` to settle. */
  private graceFor(slot: Slot, job: Job): void {
    const now = performance.now();
    // Its time limit no longer applies: it has been answered. (An earlier timer still set
    // finds the deadline moved and re-arms.)
    job.deadlineAt = now + this.o.cancelGraceMs;
    slot.arm(job.deadlineAt, now);
  }

  /**
   * Changes the number of workers. Growing resolves when the new workers are ready; shrinking
   * retires workers once the calls already handed to them are done, and resolves when they exit.
   */
  async resize(n: number): Promise<void> {
    if (!positiveInt(n)) throw InvalidArgumentError.field("size", "must be an integer ≥ 1");
    if (this.closed) throw new ClosedError("executor pool is closed");
    this.target = n;
    const active = this.slots.filter((s) => !s.retiring);
    if (active.length <= n) {
      await Promise.all((await this.grow()).map((s) => s.booted));
      return;
    }
    // Retire booting workers first, then the least loaded.
    const victims = active
      .sort((a, b) => Number(a.ready) - Number(b.ready) || a.posted.length - b.posted.length)
      .slice(0, active.length - n);
    for (const s of victims) {
      s.retiring = true;
      if (s.posted.length === 0) s.stop();
    }
    await Promise.all(victims.map((s) => s.exited));
  }

  /** Load snapshot. */
  stats(): ExecutorPoolStats {
    let busy = 0;
    let workers = 0;
    let posted = 0;
    let booting = 0;
    let load = 0;
    let queuedLoad = 0;
    for (const s of this.slots) {
      if (s.posted.length > 0) busy++;
      if (!s.dead) workers++;
      if (!s.dead && !s.ready) booting++;
      posted += s.posted.length;
      for (const j of s.posted) load += 1 / j.conc;
    }
    this.queue.forEach((j) => (queuedLoad += 1 / j.conc));
    const { target: size, completed } = this;
    const queued = this.queue.length;
    return { size, workers, busy, booting, queued, posted, completed, load, queuedLoad };
  }

  /** Terminates every worker; queued and running calls reject with CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.respawnTimer !== undefined) clearTimeout(this.respawnTimer);
    this.lending.close();
    const err = new ClosedError("executor pool is closed");
    for (const job of this.queue.drain()) {
      job.reject(err);
      for (const d of job.dependents ?? []) d.reject(err);
    }
    const slots = this.slots;
    this.slots = [];
    for (const s of slots) {
      s.stop();
      for (const job of s.posted.splice(0)) job.reject(err);
    }
    await Promise.all(slots.map((s) => s.exited));
  }

  // ---- scheduling ----

  /**
   * Starts workers until there are `target` non-retiring ones; returns the new ones.
   * `replacement`: they stand in for lost workers (see `pump`); `most`: start no more than that.
   */
  private fill(replacement = false, most = Infinity): Slot[] {
    const fresh: Slot[] = [];
    let active = 0;
    for (const s of this.slots) if (!s.retiring) active++;
    for (; active < this.target && !this.closed && fresh.length < most; active++) {
      const slot = this.spawn();
      slot.replacement = replacement;
      fresh.push(slot);
    }
    return fresh;
  }

  /**
   * Starts workers up to the target, at most `bootConcurrency` booting at a time. Booting a
   * worker takes a core for tens of milliseconds: dozens booting at once share the cores with
   * the calls being served and all become ready late, together, while a few at a time each join
   * as soon as they are ready, and the calls keep a share of the machine meanwhile.
   */
  private async grow(): Promise<Slot[]> {
    const fresh: Slot[] = [];
    for (;;) {
      const booting = this.slots.filter((s) => !s.ready && !s.dead && !s.replacement);
      if (booting.length >= this.o.bootConcurrency) {
        await Promise.race(booting.map((s) => s.booted.catch(() => undefined)));
        continue;
      }
      const [slot] = this.fill(false, 1);
      if (slot === undefined) return fresh;
      fresh.push(slot);
    }
  }

  private spawn(): Slot {
    const o = this.o;
    const slot = new Slot(this.events, o.workerLimits, o.valueCacheBytes, this.externalBytes);
    this.slots.push(slot);
    return slot;
  }

  /** Hands queued calls to workers with room, least loaded first, then those that know the code. */
  private pump(): void {
    while (this.queue.length > 0) {
      const job = this.queue.peek()!;
      let best: Slot | undefined;
      let bestScore = Infinity;
      // While a replacement worker boots (one lost to a crash, time limit or cancel), a call
      // waits for it (or for a busy worker to finish) rather than being posted behind a running
      // call that may run long. Workers started to grow the pool do not hold calls back: growth
      // comes under load, when stalling dispatch for a boot would cost the most.
      const booting = this.slots.some((s) => s.replacement && !s.ready && !s.dead);
      for (const s of this.slots) {
        if (!s.ready || s.retiring || s.dead) continue;
        // Posted where it starts at once; else behind a few others, unless what runs there
        // waits on nested calls (it may be their callee) or was told to stop.
        const now = s.startsNow(job.conc);
        if (!now && (booting || s.held || s.posted.length >= s.running + this.o.depth - 1))
          continue;
        const score =
          s.posted.length * 2 + (now ? 0 : 2 * this.o.depth) + (s.knows(job.key) ? 0 : 1);
        if (score < bestScore) [best, bestScore] = [s, score];
      }
      if (best === undefined) {
        this.lending.lend();
        return;
      }
      this.queue.shift();
      if (this.dropped.has(job) || this.expired(job)) continue;
      this.assign(best, job);
    }
  }

  /** A call whose caller has stopped waiting is failed with TIMEOUT instead of started. */
  private expired(job: Job): boolean {
    const deadline = job.call.deadline;
    if (deadline === undefined) return false;
    const now = Date.now();
    if (now < deadline) return false;
    const err = lateError(job.call, now);
    job.reject(err);
    for (const d of job.dependents ?? []) d.reject(err);
    return true;
  }

  private assign(slot: Slot, job: Job): void {
    const { call } = job;
    // One copy into buffers of their own, moved to the worker: the arguments stay here, intact,
    // for a replacement worker or a retried run, and the worker owns (and may view) its copy.
    const moved: ArrayBuffer[] = [];
    const args = call.args.map((a) => toWorker(a, moved));
    const msg: RunMsg = { t: "inv", id: call.id, k: job.key, a: args };
    if (slot.admit(job.key)) {
      const { name, version, kind, source, exportName, init } = call.code;
      msg.c = { name, version, kind, source, exportName, init };
    }
    if (job.upstream !== undefined) msg.u = job.upstream.call.id;
    if (job.keep !== undefined) msg.keep = true;
    if (job.keep === "drop") msg.drop = true;
    // Posted behind a running call, it may start later: the worker checks the deadline itself.
    if (call.deadline !== undefined) msg.d = call.deadline;
    if (job.conc !== 1) msg.n = job.conc;
    if (call.writesBuffered === true) msg.w = true;
    job.started = false;
    slot.posted.push(job);
    slot.post(msg, moved);
    job.slot = slot;
    for (const m of job.mail ?? []) slot.post(m);
    // The rest of a chain follows its head into the same worker, whatever its queue depth.
    for (const d of job.dependents ?? []) this.assign(slot, d);
    this.advance(slot);
  }

  /** Times the jobs of `slot` that start now (as far as the main thread can tell). */
  private advance(slot: Slot): void {
    const fresh = slot.advance();
    if (fresh.length === 0) return;
    const now = performance.now();
    for (const job of fresh) {
      job.call.started?.();
      slot.arm(startJob(job, now, this.o.cancelGraceMs), now);
    }
  }

  /** Invocation `id` of `slot` settled: account for it, time the next ones, refill the worker. */
  private finished(slot: Slot, id: string): Job | undefined {
    const job = slot.take(id);
    if (job === undefined) return undefined; // a stray message, not a result we asked for
    this.completed++;
    if (slot.posted.length > 0) this.advance(slot);
    else if (slot.retiring) slot.stop();
    this.pump();
    this.lending.trim();
    return job;
  }

  // ---- worker events ----

  private readonly events = {
    message: (slot: Slot, m: UpMsg): void => {
      // User code can reach parentPort (module mode has require); never let junk throw here.
      if (typeof m !== "object" || m === null) return;
      if (m.t === "ok") {
        if (m.v instanceof Uint8Array) this.finished(slot, m.inv)?.resolve(m.v);
      } else if (m.t === "err") {
        this.finished(slot, m.inv)?.reject(fromWireError(m.e));
      } else if (m.t === "host") {
        // Parked before the host is asked, so the callee it queues finds this worker parked.
        const caller = m.op === "call" ? slot.find(m.inv) : undefined;
        const nested = caller?.started === true ? caller : undefined;
        if (nested !== undefined) nested.nested = (nested.nested ?? 0) + 1;
        const answer = answerHostCall(slot, m, this.host);
        if (nested !== undefined) this.lending.park(nested, answer);
      } else if (m.t === "log") {
        forwardLogLine(m, this.onLog, (inv) => this.jobs.get(inv)?.call.run);
      } else if (m.t === "ready") {
        this.bootFailures = 0;
        this.pump();
      }
    },
    expired: (slot: Slot): void => {
      // Timers may fire a little early relative to performance.now(): 1 ms of slack.
      const now = performance.now() + 1;
      let next = Infinity;
      for (const job of [...slot.posted]) {
        if (job.started !== true || job.deadlineAt === undefined) continue;
        if (job.deadlineAt > now) {
          next = Math.min(next, job.deadlineAt);
          continue;
        }
        // Past its time limit it is answered and told to stop; past the grace after that (or
        // after a cancel) its worker goes, and with it the calls running beside it.
        if (job.abandoned === undefined) {
          if (job.runEndsFirst === true) this.abandon(slot, job, "TIMEOUT", runEndedError(job));
          else this.abandon(slot, job, "FUNCTION_TIMEOUT", timeoutError(job));
          next = Math.min(next, job.deadlineAt);
        } else {
          this.lose(slot, job.abandoned, job);
          return;
        }
      }
      slot.arm(next, now - 1);
    },
    exit: (slot: Slot, expected: boolean): void => {
      this.slots = this.slots.filter((s) => s !== slot);
      if (expected || this.closed) return;
      if (!slot.ready) {
        this.bootFailed(slot);
        return;
      }
      this.lose(
        slot,
        lostWorkerError(slot, this.o.limits.maxOldGenerationSizeMb, this.o.externalMb),
      );
    },
  };

  /**
   * A worker is gone (killed for a call that ignored its abort, out of memory, crashed): its calls
   * fail or go back to the queue (`sortLost`), and a worker replaces it.
   */
  private lose(slot: Slot, err: Error, culprit?: Job): void {
    slot.kill();
    this.slots = this.slots.filter((s) => s !== slot);
    const jobs = slot.posted.splice(0);
    slot.running = 0;
    const lost = sortLost(jobs, err, culprit);
    this.completed += lost.failed;
    this.queue.unshiftAll(lost.requeue);
    this.fill(true);
    this.pump();
  }

  /** A replacement worker died before it was ready: retry with backoff, fail calls if none can run. */
  private bootFailed(slot: Slot): void {
    this.bootFailures++;
    if (!this.slots.some((s) => s.ready && !s.retiring)) {
      const err = new StratusError(
        "INTERNAL",
        `executor worker failed to start: ${slot.exitError?.message ?? "it exited"}`,
      );
      for (const job of this.queue.drain()) {
        job.reject(err);
        for (const d of job.dependents ?? []) d.reject(err);
      }
    }
    if (this.respawnTimer !== undefined) return;
    const delay = backoffMs(this.bootFailures);
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      this.fill(true);
    }, delay);
    this.respawnTimer.unref();
  }
}

/**
 * The executor pool: worker threads that run user functions, one invocation at a time each.
 *
 * Scheduling: one FIFO queue for the pool; each worker is handed up to `pipelineDepth` calls ahead
 * so it never idles waiting for the main thread, and runs them strictly in order. The pool never
 * asks a worker what it is doing: results come back in posting order, so the oldest unanswered
 * call of a worker is the one running, and one timer per worker enforces its time limit.
 *
 * Nested calls: a call waiting on `ctx.call` parks its worker (one invocation at a time, so the
 * worker can run nothing else meanwhile). Parked workers are handed no more calls, and while
 * every worker is parked and calls are queued, the pool lends one more worker, up to
 * `maxExtraWorkers`, so the callee (which is queued behind its caller) always gets a thread:
 * `outer -> mid -> leaf` runs on a one-executor node with two lent workers. Extra workers are
 * retired as soon as they are idle and no longer covered by a parked one. Why lending and not
 * running the callee inside the parked worker: the callee then keeps its own time limit, memory
 * limit and failure isolation (a callee that loops or runs out of memory loses its own worker,
 * not its caller's), and a callee placed on another node is the same case as one placed here.
 * Past the bound nested calls wait, and their deadlines fail them.
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
  chainBroken,
  checkInvocation,
  lateError,
  lostWorkerError,
  runEndedError,
  timeoutError,
  toWorker,
} from "./calls.js";
import { Deque } from "./deque.js";
import { positiveInt, resolvePoolOptions } from "./options.js";
import type { ResolvedPoolOptions } from "./options.js";
import { newJob } from "./job.js";
import type { Job } from "./job.js";
import { Slot, link } from "./slot.js";
import { MAX_LOG_LINE, ownBytes } from "./types.js";
import type { HostHandler } from "./host-calls.js";
import type {
  ChainOptions,
  ExecutorPoolOptions,
  ExecutorPoolStats,
  Invocation,
  InvocationObserver,
  LogMsg,
  MailMsg,
  RunMsg,
  UpMsg,
  AbortMsg,
  WorkerLogLine,
  WorkerLogObserver,
} from "./types.js";

/** How long a worker beyond the pool's size (lent for nested calls) may sit idle. */
const EXTRA_IDLE_MS = 1_000;

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
  private trimTimer: NodeJS.Timeout | undefined;

  constructor(opts: ExecutorPoolOptions) {
    this.o = resolvePoolOptions(opts);
    this.target = opts.size;
    this.host = opts.host;
    this.observe = opts.observe;
    this.onLog = opts.onLog;
  }

  /** A console line from a worker: checked (user code can post anything), then handed on. */
  private logLine(m: LogMsg): void {
    if (this.onLog === undefined || typeof m.m !== "string") return;
    const level = m.l === "debug" || m.l === "warn" || m.l === "error" ? m.l : "info";
    const line: WorkerLogLine = { level, message: m.m.slice(0, MAX_LOG_LINE + 64) };
    if (typeof m.inv === "string" && typeof m.fn === "string") {
      line.inv = m.inv;
      line.fn = m.fn;
      const job = this.jobs.get(m.inv);
      if (job !== undefined) line.run = job.call.run;
    }
    try {
      this.onLog(line);
    } catch {
      // An observer's failure is not the worker's.
    }
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
    const job = newJob(call, timeoutMs, resolve, reject, (settled, ok) => {
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
    if (slot.inflight.peek() === job) this.graceFor(slot);
  }

  /** The running call of `slot` was told to stop: it has `cancelGraceMs` to settle. */
  private graceFor(slot: Slot): void {
    const now = performance.now();
    // Its time limit no longer applies: it has been answered. (An earlier timer still set
    // finds the deadline moved and re-arms.)
    slot.arm(now + this.o.cancelGraceMs, now);
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
      .sort((a, b) => Number(a.ready) - Number(b.ready) || a.inflight.length - b.inflight.length)
      .slice(0, active.length - n);
    for (const s of victims) {
      s.retiring = true;
      if (s.inflight.length === 0) s.stop();
    }
    await Promise.all(victims.map((s) => s.exited));
  }

  /** Load snapshot. */
  stats(): ExecutorPoolStats {
    let busy = 0;
    let workers = 0;
    let posted = 0;
    let booting = 0;
    for (const s of this.slots) {
      if (s.inflight.length > 0) busy++;
      if (!s.dead) workers++;
      if (!s.dead && !s.ready) booting++;
      posted += s.inflight.length;
    }
    const { target: size, completed } = this;
    return { size, workers, busy, booting, queued: this.queue.length, posted, completed };
  }

  /** Terminates every worker; queued and running calls reject with CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.respawnTimer !== undefined) clearTimeout(this.respawnTimer);
    if (this.trimTimer !== undefined) clearTimeout(this.trimTimer);
    const err = new ClosedError("executor pool is closed");
    for (const job of this.queue.drain()) {
      job.reject(err);
      for (const d of job.dependents ?? []) d.reject(err);
    }
    const slots = this.slots;
    this.slots = [];
    for (const s of slots) {
      s.stop();
      for (const job of s.inflight.drain()) job.reject(err);
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
    const slot = new Slot(this.events, this.o.limits, this.o.valueCacheBytes, this.externalBytes);
    this.slots.push(slot);
    return slot;
  }

  /**
   * Lends a worker when calls are queued and every worker is parked on a nested call (none is
   * running, or starting, anything that will finish without the queue moving).
   */
  private lend(): void {
    if (this.queue.length === 0 || this.closed) return;
    let live = 0;
    for (const s of this.slots) {
      if (s.dead || s.retiring) continue;
      if (!s.parked) return;
      live++;
    }
    if (live < this.target + this.o.maxExtra) this.spawn();
  }

  /**
   * Retires idle workers beyond the target plus one per parked worker (lent ones, in effect),
   * after a second: a node busy with nested calls would otherwise start a worker for each one.
   */
  private trim(): void {
    if (this.trimTimer !== undefined || this.closed) return;
    let live = 0;
    for (const s of this.slots) if (!s.dead && !s.retiring) live++;
    if (live <= this.target) return;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      this.retireSurplus();
      this.trim(); // some were busy: look again later
    }, EXTRA_IDLE_MS);
    this.trimTimer.unref();
  }

  private retireSurplus(): void {
    let live = 0;
    let parked = 0;
    for (const s of this.slots) {
      if (s.dead || s.retiring) continue;
      live++;
      if (s.parked) parked++;
    }
    for (const s of this.slots) {
      if (live <= this.target + parked) return;
      if (s.dead || s.retiring || !s.ready || s.inflight.length > 0) continue;
      s.retiring = true;
      s.stop();
      live--;
    }
  }

  /** The running call of `slot` waits on a nested call until `answer` settles. */
  private park(job: Job, answer: Promise<unknown> | undefined): void {
    if (answer === undefined) {
      job.nested = (job.nested ?? 1) - 1;
      return;
    }
    const done = (): void => {
      job.nested = (job.nested ?? 1) - 1;
      this.pump();
      this.trim();
    };
    answer.then(done, done);
    this.lend();
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
        if (!s.ready || s.retiring || s.dead || s.inflight.length >= this.o.depth) continue;
        if (s.parked || s.stopping || (booting && s.inflight.length > 0)) continue;
        const score = s.inflight.length * 2 + (s.knows(job.key) ? 0 : 1);
        if (score < bestScore) [best, bestScore] = [s, score];
      }
      if (best === undefined) {
        this.lend();
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
    slot.inflight.push(job);
    slot.post(msg, moved);
    job.slot = slot;
    for (const m of job.mail ?? []) slot.post(m);
    if (slot.inflight.length === 1) this.startHead(slot);
    // The rest of a chain follows its head into the same worker, whatever its queue depth.
    for (const d of job.dependents ?? []) this.assign(slot, d);
  }

  /** The head of `slot` starts now (as far as the main thread can tell): arm its time limit. */
  private startHead(slot: Slot): void {
    const now = performance.now();
    const head = slot.inflight.peek()!;
    head.startedAt = now;
    head.call.started?.();
    // One abandoned while posted answers at once, without running: it gets the grace only.
    if (head.abandoned !== undefined) return slot.arm(now + this.o.cancelGraceMs, now);
    // Its own time limit, or its caller's run's deadline when that comes first: nobody waits
    // for the result past it, so the executor is not held for it.
    const limit = now + head.timeoutMs;
    const runEnd =
      head.call.deadline === undefined ? Infinity : now + (head.call.deadline - Date.now());
    head.runEndsFirst = runEnd < limit;
    slot.arm(Math.min(limit, runEnd), now);
  }

  /** The head of `slot` settled: account for it, time the next one, refill the worker. */
  private finished(slot: Slot): Job | undefined {
    const job = slot.inflight.shift();
    if (job === undefined) return undefined; // a stray message, not a result we asked for
    this.completed++;
    if (slot.inflight.length > 0) this.startHead(slot);
    else if (slot.retiring) slot.stop();
    this.pump();
    this.trim();
    return job;
  }

  // ---- worker events ----

  private readonly events = {
    message: (slot: Slot, m: UpMsg): void => {
      // User code can reach parentPort (module mode has require); never let junk throw here.
      if (typeof m !== "object" || m === null) return;
      if (m instanceof Uint8Array) {
        this.finished(slot)?.resolve(m);
      } else if (m.t === "err") {
        this.finished(slot)?.reject(fromWireError(m.e));
      } else if (m.t === "host") {
        // Parked before the host is asked, so the callee it queues finds this worker parked.
        const head = m.op === "call" ? slot.inflight.peek() : undefined;
        const nested = head?.call.id === m.inv ? head : undefined;
        if (nested !== undefined) nested.nested = (nested.nested ?? 0) + 1;
        const answer = answerHostCall(slot, m, this.host);
        if (nested !== undefined) this.park(nested, answer);
      } else if (m.t === "log") {
        this.logLine(m);
      } else if (m.t === "ready") {
        this.bootFailures = 0;
        this.pump();
      }
    },
    expired: (slot: Slot): void => {
      const job = slot.inflight.peek();
      if (job === undefined) return;
      const now = performance.now();
      // Timers may fire a little early relative to performance.now(); re-arm if so.
      if (now < slot.deadline - 1) {
        slot.arm(slot.deadline, now);
        return;
      }
      // Past its time limit it is answered and told to stop; past the grace after that (or
      // after a cancel) its worker goes.
      if (job.abandoned === undefined && job.runEndsFirst === true)
        this.abandon(slot, job, "TIMEOUT", runEndedError(job));
      else if (job.abandoned === undefined)
        this.abandon(slot, job, "FUNCTION_TIMEOUT", timeoutError(job));
      else this.lose(slot, job.abandoned);
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
   * A worker is gone (killed for its time limit, out of memory, crashed): its running call fails
   * with `err`, the calls posted behind it had not started and go back to the front of the queue,
   * and a replacement is started.
   */
  private lose(slot: Slot, err: Error): void {
    slot.kill();
    this.slots = this.slots.filter((s) => s !== slot);
    const [running, ...unstarted] = slot.inflight.drain();
    // A chain's later calls go back only with their head; without it their input is lost.
    const requeue: Job[] = [];
    for (const j of unstarted) {
      if (j.upstream === undefined) requeue.push(j);
      else if (!unstarted.includes(j.upstream)) j.reject(chainBroken(j, err));
    }
    this.queue.unshiftAll(requeue);
    if (running !== undefined) {
      this.completed++;
      running.reject(err);
    }
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

/**
 * One call as the pool tracks it, from the queue to its answer: what it runs, its time limit and
 * concurrency, the worker it was handed to, its place in a chain, and the mail and nested calls it has.
 */
import { performance } from "node:perf_hooks";
import type { Slot } from "./slot.js";
import { codeKey } from "./types.js";
import type { Invocation, MailMsg } from "./types.js";
import type { HostInvocation } from "./host-calls.js";
import { ensureError } from "../../errors/index.js";

/**
 * A call waiting in the pool or posted to a worker, answered at most once: a cancelled call is
 * answered before its worker answers it, and what the worker says later is dropped. `settled`
 * runs once, before the caller hears the outcome. A class, not a literal with closures: one is
 * made per invocation, on the hot path.
 */
export class Job {
  readonly key: string;
  /** Built on the first host call only; most invocations make none. */
  info: HostInvocation | undefined = undefined;
  /** `performance.now()` when it was queued. */
  readonly queuedAt = performance.now();
  /** Messages for this invocation so far; posted again if it moves to a replacement worker. */
  declare mail?: MailMsg[];
  /** The worker it was handed to, if any. */
  declare slot?: Slot;
  /** In a chain: the calls that run after this one in the same worker, in order. */
  declare dependents?: Job[];
  /** In a chain: the call whose result is this one's first argument. */
  declare upstream?: Job;
  /** In a chain: a call follows this one, so the worker keeps its result ("drop": only there). */
  declare keep?: true | "drop";
  /**
   * Answered already (cancelled, or past its time limit) while its worker has it: the worker was
   * told to stop it, its host calls are refused, and whatever it answers is dropped. Its worker
   * is replaced only if it does not settle within the pool's grace period.
   */
  declare abandoned?: Error;
  /** Made on its first nested call: aborted with it, so the nested runs are cancelled too. */
  declare stop?: AbortController;
  /** Nested calls (`ctx.call`) it is waiting on; while above zero, its worker is parked. */
  declare nested?: number;
  /** Its caller's run ends before its own time limit: stopping it then is a `TIMEOUT`. */
  declare runEndsFirst?: boolean;
  /** Running in its worker (as far as the main thread can tell: see `Slot.advance`). */
  declare started?: boolean;
  /** `performance.now()` by which it must settle: its time limit, then its grace. */
  declare deadlineAt?: number;
  /** `performance.now()` when it started running in its worker. */
  declare startedAt?: number;
  private done = false;
  /** Writes told to the host without waiting (`defer`) that it has not taken yet. */
  private telling = 0;
  /** The first of those writes the host refused: the invocation fails with it. */
  private refused: Error | undefined;
  /** Its result, held until the host has taken every write told before it. */
  private held: Uint8Array | undefined;

  constructor(
    readonly call: Invocation,
    readonly timeoutMs: number,
    /** How many invocations its worker may run while it runs (its function's, clamped). */
    readonly conc: number,
    private readonly onResolve: (b: Uint8Array) => void,
    private readonly onReject: (e: Error) => void,
    private readonly settled: (job: Job, ok: boolean) => void,
  ) {
    this.key = codeKey(call.code);
  }

  /**
   * A write of this invocation that the worker did not wait for (its run buffers writes). The
   * host takes it before the result that follows it, but may answer later: the result is held
   * until it has, and a refusal fails the invocation.
   */
  defer(p: Promise<unknown>): void {
    this.telling++;
    p.then(
      () => this.told(undefined),
      (e: unknown) => this.told(ensureError(e)),
    );
  }

  private told(e: Error | undefined): void {
    this.telling--;
    this.refused ??= e;
    if (this.telling > 0 || this.held === undefined) return;
    const bytes = this.held;
    this.held = undefined;
    this.resolve(bytes);
  }

  resolve(bytes: Uint8Array): void {
    if (this.done) return;
    if (this.telling > 0) {
      this.held = bytes;
      return;
    }
    if (this.refused !== undefined) return this.reject(this.refused);
    this.done = true;
    this.settled(this, true);
    this.onResolve(bytes);
  }

  reject(e: Error): void {
    if (this.done) return;
    this.done = true;
    this.settled(this, false);
    this.onReject(e);
  }
}

/**
 * `job` starts running now (`performance.now()`): sets and returns the time by which it must
 * settle. Its own time limit, or its caller's run's deadline when that comes first (nobody waits
 * for the result past it, so the executor is not held for it); one abandoned while posted answers
 * at once, without running, and gets the grace only.
 */
export function startJob(job: Job, now: number, graceMs: number): number {
  job.startedAt = now;
  if (job.abandoned !== undefined) return (job.deadlineAt = now + graceMs);
  const limit = now + job.timeoutMs;
  const d = job.call.deadline;
  const left = d === undefined ? Infinity : d - Date.now();
  // Its deadline passed before its turn: the worker refuses to start it and says so at once
  // ("was not started"); answering first here would tell its caller it was stopped while it ran.
  if (left <= 0) {
    job.runEndsFirst = true;
    return (job.deadlineAt = now + graceMs);
  }
  const runEnd = now + left;
  job.runEndsFirst = runEnd < limit;
  return (job.deadlineAt = Math.min(limit, runEnd));
}

/**
 * Workers lent for nested calls: while every worker of the pool is parked (its running calls wait
 * on `ctx.call` and it cannot start the next queued call), the pool lends one more, so a callee
 * queued behind its caller always gets a thread; the lent ones are retired once idle and no longer
 * covered by a parked worker. See pool.ts for why callees are not run inside parked workers.
 */
import type { Job } from "./job.js";
import type { Slot } from "./slot.js";

/** How long a worker beyond the pool's size (lent for nested calls) may sit idle. */
const EXTRA_IDLE_MS = 1_000;

/** What lending sees of its pool. */
export interface LendingPool {
  slots(): readonly Slot[];
  /** The pool's target number of workers. */
  target(): number;
  closed(): boolean;
  /** The call at the front of the pool queue. */
  next(): Job | undefined;
  /** Starts one more worker. */
  spawn(): Slot;
  /** Hands queued calls to workers. */
  pump(): void;
}

/** The pool's lending of workers to nested calls, bounded by `maxExtra` beyond its target. */
export class Lending {
  private trimTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: LendingPool,
    private readonly maxExtra: number,
  ) {}

  close(): void {
    if (this.trimTimer !== undefined) clearTimeout(this.trimTimer);
  }

  /**
   * Lends a worker when calls are queued and every worker is parked on a nested call (none is
   * running, or starting, anything that will finish without the queue moving).
   */
  lend(): void {
    const next = this.pool.next();
    if (next === undefined || this.pool.closed()) return;
    let live = 0;
    for (const s of this.pool.slots()) {
      if (s.dead || s.retiring) continue;
      if (!s.parkedFor(next.conc)) return;
      live++;
    }
    if (live < this.pool.target() + this.maxExtra) this.pool.spawn();
  }

  /**
   * Retires idle workers beyond the target plus one per parked worker (lent ones, in effect),
   * after a second: a node busy with nested calls would otherwise start a worker for each one.
   */
  trim(): void {
    if (this.trimTimer !== undefined || this.pool.closed()) return;
    let live = 0;
    for (const s of this.pool.slots()) if (!s.dead && !s.retiring) live++;
    if (live <= this.pool.target()) return;
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
    for (const s of this.pool.slots()) {
      if (s.dead || s.retiring) continue;
      live++;
      if (s.parked) parked++;
    }
    for (const s of this.pool.slots()) {
      if (live <= this.pool.target() + parked) return;
      if (s.dead || s.retiring || !s.ready || s.posted.length > 0) continue;
      s.retiring = true;
      s.stop();
      live--;
    }
  }

  /** Running call `job` waits on a nested call until `answer` settles. */
  park(job: Job, answer: Promise<unknown> | undefined): void {
    if (answer === undefined) {
      job.nested = (job.nested ?? 1) - 1;
      return;
    }
    const done = (): void => {
      job.nested = (job.nested ?? 1) - 1;
      this.pool.pump();
      this.trim();
    };
    answer.then(done, done);
    this.lend();
  }
}

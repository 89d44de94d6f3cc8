/**
 * The batching pass: concurrent runs of a flow with a batch map are queued and sent as one run
 * whose table holds every request's rows (each tagged with its request), so the batch map
 * receives them together; the result is split back per request.
 *
 * Runs that share a batch are strangers, so each still succeeds or fails on its own:
 * - every run keeps its own deadline: it fails alone when the deadline passes (queued or in
 *   flight), leaves the queue at once, and the batch runs on for the others with the latest
 *   deadline among them rather than the earliest;
 * - a batch that fails because of what it carried (user code threw, ran out of time or memory,
 *   returned rows that break the schema) is split in halves and each half sent again, down to
 *   single runs, so only the run holding the bad row gets the error. One bad run among n costs
 *   about 2·log2(n) extra calls. Failures that are not about the content (the cluster is
 *   overloaded, unreachable, out of time) fail the batch's runs without a retry, as they would
 *   have failed each run sent alone, and a retry would only add load.
 */
import { InvalidArgumentError, StratusError, TimeoutError } from "../errors/index.js";
import type { Table } from "./ops.js";

/** Options of the batching queue. */
export interface BatchOptions {
  /** A run leaves as soon as this many rows are queued. @default 64 */
  maxRows?: number;
  /**
   * The latency a request should see. A queued request waits at most what this leaves after the
   * flow's own time (measured, smoothed), and never more than half of it. @default 50
   */
  latencyTargetMs?: number;
}

/**
 * Error codes that may come from one run's rows rather than from the cluster: a batch that
 * fails with one of these is split to find the run responsible.
 */
const CONTENT_CODES: ReadonlySet<string> = new Set([
  "FUNCTION_ERROR",
  "FUNCTION_TIMEOUT",
  "FUNCTION_OOM",
  "SCHEMA_MISMATCH",
  "UNKNOWN_COLUMN",
  "VALUE_TOO_LARGE",
]);

interface Waiting {
  table: Table;
  /** `performance.now()` past which the run fails; none: the client's default deadline. */
  deadline: number | undefined;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
  resolve: (t: Table) => void;
  reject: (e: unknown) => void;
}

/** The queue. `send` runs one merged table. */
export class Batcher {
  private readonly maxRows: number;
  private readonly targetMs: number;
  private queue: Waiting[] = [];
  private rows = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Smoothed duration of a batched run. */
  private serviceMs = 0;

  constructor(
    options: BatchOptions,
    private readonly send: (t: Table, o: { timeoutMs?: number }) => Promise<Table>,
  ) {
    this.maxRows = options.maxRows ?? 64;
    this.targetMs = options.latencyTargetMs ?? 50;
    if (!Number.isInteger(this.maxRows) || this.maxRows < 1) {
      throw InvalidArgumentError.field("batch.maxRows", "must be an integer ≥ 1");
    }
    if (!(this.targetMs > 0) || !Number.isFinite(this.targetMs)) {
      throw InvalidArgumentError.field("batch.latencyTargetMs", "must be a positive number");
    }
  }

  /** How long the first queued request may wait for others. */
  get waitMs(): number {
    return Math.max(1, Math.min(this.targetMs / 2, this.targetMs - this.serviceMs));
  }

  submit(table: Table, options: { timeoutMs?: number }): Promise<Table> {
    const { timeoutMs } = options;
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || !(timeoutMs > 0))
    ) {
      throw InvalidArgumentError.field("timeoutMs", "must be a finite positive number");
    }
    return new Promise((resolve, reject) => {
      const w: Waiting = {
        table,
        deadline: timeoutMs === undefined ? undefined : performance.now() + timeoutMs,
        timer: undefined,
        settled: false,
        resolve,
        reject,
      };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => this.expire(w, timeoutMs), timeoutMs);
      }
      this.queue.push(w);
      this.rows += table.r.length;
      if (this.rows >= this.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.waitMs);
    });
  }

  /** A run's own deadline passed: it fails alone, and leaves the queue if it is still there. */
  private expire(w: Waiting, timeoutMs: number): void {
    if (w.settled) return;
    const at = this.queue.indexOf(w);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.rows -= w.table.r.length;
      if (this.queue.length === 0 && this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    }
    settle(w, () => w.reject(new TimeoutError(`run did not finish within ${timeoutMs} ms`)));
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.rows = 0;
    this.dispatch(batch, true);
  }

  /** Sends the runs still waiting in `batch` as one run; splits it when its content failed. */
  private dispatch(batch: Waiting[], first: boolean): void {
    const live = batch.filter((w) => !w.settled);
    if (live.length === 0) return;
    const merged: Table = { q: [], i: [], r: [] };
    live.forEach((w, k) => {
      for (let n = 0; n < w.table.r.length; n++) {
        merged.q.push(k);
        merged.i.push(w.table.i[n] as string | number);
        merged.r.push(w.table.r[n] as Record<string, unknown>);
      }
    });
    // The batch lives as long as its longest-lived run; shorter ones fail alone on their timers.
    const now = performance.now();
    const open = live.some((w) => w.deadline === undefined);
    const latest = Math.max(...live.map((w) => w.deadline ?? now));
    const opts = open ? {} : { timeoutMs: Math.max(1, Math.ceil(latest - now)) };
    const t0 = performance.now();
    this.send(merged, opts).then(
      (out) => {
        if (first) this.serviceMs = 0.8 * this.serviceMs + 0.2 * (performance.now() - t0);
        const parts: Table[] = live.map(() => ({ q: [], i: [], r: [] }));
        for (let n = 0; n < out.r.length; n++) {
          const part = parts[out.q[n] as number];
          if (part === undefined) continue;
          part.q.push(0);
          part.i.push(out.i[n] as string | number);
          part.r.push(out.r[n] as Record<string, unknown>);
        }
        live.forEach((w, k) => settle(w, () => w.resolve(parts[k] as Table)));
      },
      (e: unknown) => {
        const waiting = live.filter((w) => !w.settled);
        if (waiting.length > 1 && e instanceof StratusError && CONTENT_CODES.has(e.code)) {
          const half = Math.ceil(waiting.length / 2);
          this.dispatch(waiting.slice(0, half), false);
          this.dispatch(waiting.slice(half), false);
          return;
        }
        for (const w of waiting) settle(w, () => w.reject(e));
      },
    );
  }
}

function settle(w: Waiting, how: () => void): void {
  if (w.settled) return;
  w.settled = true;
  if (w.timer !== undefined) clearTimeout(w.timer);
  how();
}

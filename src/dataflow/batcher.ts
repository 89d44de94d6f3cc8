/**
 * The batching pass: concurrent runs of a flow with a batch map are queued and sent as one run
 * whose table holds every request's rows (each tagged with its request), so the batch map
 * receives them together; the result is split back per request.
 */
import { InvalidArgumentError } from "../errors/index.js";
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

interface Waiting {
  table: Table;
  timeoutMs: number | undefined;
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
    return new Promise((resolve, reject) => {
      this.queue.push({ table, timeoutMs: options.timeoutMs, resolve, reject });
      this.rows += table.r.length;
      if (this.rows >= this.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.waitMs);
    });
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.rows = 0;
    if (batch.length === 0) return;
    const merged: Table = { q: [], i: [], r: [] };
    batch.forEach((w, k) => {
      for (let n = 0; n < w.table.r.length; n++) {
        merged.q.push(k);
        merged.i.push(w.table.i[n] as string | number);
        merged.r.push(w.table.r[n] as Record<string, unknown>);
      }
    });
    const timeouts = batch.map((w) => w.timeoutMs).filter((t): t is number => t !== undefined);
    const opts = timeouts.length > 0 ? { timeoutMs: Math.min(...timeouts) } : {};
    const t0 = performance.now();
    this.send(merged, opts).then(
      (out) => {
        this.serviceMs = 0.8 * this.serviceMs + 0.2 * (performance.now() - t0);
        const parts: Table[] = batch.map(() => ({ q: [], i: [], r: [] }));
        for (let n = 0; n < out.r.length; n++) {
          const part = parts[out.q[n] as number];
          if (part === undefined) continue;
          part.q.push(0);
          part.i.push(out.i[n] as string | number);
          part.r.push(out.r[n] as Record<string, unknown>);
        }
        batch.forEach((w, k) => w.resolve(parts[k] as Table));
      },
      (e: unknown) => {
        for (const w of batch) w.reject(e);
      },
    );
  }
}

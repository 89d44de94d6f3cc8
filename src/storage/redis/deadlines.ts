import { StorageUnavailableError } from "../../errors/index.js";

interface Pending {
  readonly expires: number;
  readonly reject: (e: Error) => void;
  readonly what: string;
}

/**
 * Bounds how long any storage operation may take. One sweeping timer serves every operation:
 * operations share one timeout, so insertion order is expiry order and the sweep stops at the
 * first live entry. This costs a Map insert per operation instead of a timer per operation, and
 * deadlines fire at most one sweep period late.
 */
export class Deadlines {
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Settles with `work`, or rejects with `STORAGE_UNAVAILABLE` once the deadline passes. */
  run<T>(what: string, work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { expires: performance.now() + this.timeoutMs, reject, what });
      this.arm();
      work.then(
        (v) => {
          this.pending.delete(id);
          resolve(v);
        },
        (e: unknown) => {
          this.pending.delete(id);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** Rejects everything still pending (used on close). */
  cancelAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    const period = Math.max(10, Math.min(250, this.timeoutMs / 5));
    this.timer = setInterval(() => this.sweep(), period);
    this.timer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (p.expires > now) break;
      this.pending.delete(id);
      p.reject(
        new StorageUnavailableError(`${p.what} did not complete within ${this.timeoutMs} ms`),
      );
    }
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

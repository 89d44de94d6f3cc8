import { OverloadedError, TimeoutError, fromWireError } from "../errors/index.js";
import { MAX_REQUEST_ID } from "./protocol.js";

/**
 * The requests one side of a connection has sent and not yet had answered. (Writing frames is
 * `writer.ts`.)
 */

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  method: string;
  timeoutMs: number;
  /** True if the request was still unsent at its deadline (then taken back from the queue). */
  unsent?: () => boolean;
}

/**
 * The requests one side of a connection has sent and not yet had answered: ids, deadlines, and
 * settling them from responses, timeouts or the connection closing.
 *
 * Each request costs one Map entry and one timer. Node keeps timers of equal duration in one list,
 * so the usual case (every request on the default deadline) inserts and clears in O(1); the timer
 * callback is a static function with arguments rather than a closure per request.
 */
export class Outbox {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly label: () => string;
  private readonly changed: (count: number) => void;

  /**
   * @param label names the peer in error messages.
   * @param changed is told the number of outstanding requests whenever it changes.
   */
  constructor(label: () => string, changed: (count: number) => void) {
    this.label = label;
    this.changed = changed;
  }

  /** Requests awaiting a response. */
  get size(): number {
    return this.pending.size;
  }

  /** The id for the next request. Ids wrap before 2^31 and skip 0, the handshake's id. */
  allocate(): number {
    const id = this.nextId;
    this.nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
    return id;
  }

  /** Starts waiting for the response to request `id`, rejecting with `TIMEOUT` after `timeoutMs`. */
  track<T>(id: number, method: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(Outbox.expire, timeoutMs, this, id);
      this.pending.set(id, { resolve, reject, timer, method, timeoutMs });
      this.changed(this.pending.size);
    });
  }

  /**
   * Request `id` waits in the send queue: `unsent` takes it back and says whether it was still
   * there, so a request that never left fails at its deadline with `OVERLOADED`, which tells the
   * caller it was not sent (safe to retry), rather than `TIMEOUT`.
   */
  queued(id: number, unsent: () => boolean): void {
    const p = this.pending.get(id);
    if (p !== undefined) p.unsent = unsent;
  }

  /** Fails request `id` now (it could not be sent). */
  fail(id: number, err: Error): void {
    const p = this.take(id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** Settles request `id` from a response; answers to unknown ids (timed out already) are ignored. */
  settle(id: number, ok: boolean, value: unknown, error: unknown): void {
    const p = this.take(id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(fromWireError(error));
  }

  /** Rejects every outstanding request with the error `make` builds for it. */
  failAll(make: (method: string) => Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(make(p.method));
    }
    if (all.length > 0) this.changed(0);
  }

  private take(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    this.changed(this.pending.size);
    return p;
  }

  private static expire(this: void, outbox: Outbox, id: number): void {
    const p = outbox.take(id);
    if (p === undefined) return;
    if (p.unsent?.() === true) {
      const message = `request ${p.method} to ${outbox.label()} not sent: it waited ${p.timeoutMs} ms for the peer to read`;
      p.reject(
        new OverloadedError(message, { details: { method: p.method, waitedMs: p.timeoutMs } }),
      );
      return;
    }
    p.reject(
      new TimeoutError(
        `request ${p.method} to ${outbox.label()} timed out after ${p.timeoutMs} ms`,
        { details: { method: p.method, timeoutMs: p.timeoutMs } },
      ),
    );
  }
}

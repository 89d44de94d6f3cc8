import type { RawMessage } from "./frame.js";

/**
 * Receive-side flow control of one connection: runs incoming requests and notifications through
 * the handlers, at most `max` requests and `maxBytes` of their frames at a time, and tells the
 * connection when to stop and restart reading its socket so that a fast sender is slowed down by
 * TCP instead of growing our memory.
 *
 * Rules:
 * - A request whose handler returns a promise counts as in flight until the promise settles.
 *   Synchronous answers never count, so cheap methods cannot trip the limit.
 * - At `max` in flight, or `maxBytes` of request frames in flight (a handler holds its arguments
 *   until it answers), further requests wait in a FIFO backlog and reading pauses. Frames that
 *   were already read (the rest of the current chunk, the stream's buffer) are what fills the
 *   backlog, so it stays small. Reading resumes once the backlog is empty and in-flight requests
 *   dropped to half of both bounds, so the socket does not flap between paused and flowing.
 * - Notifications queue behind waiting requests, keeping the order in which the peer sent them.
 *   Responses never queue (the connection settles them directly): a handler may be waiting for
 *   one, and holding it back would deadlock.
 * - For the same reason the socket is never paused while this side awaits responses of its own.
 *   Then the backlog is capped at `max` messages and `maxBytes`; requests beyond it are answered
 *   `OVERLOADED` (retryable).
 */

/** Returned by {@link InboxHost.request} when the request must be dropped unanswered. */
export const SKIP: unique symbol = Symbol("skip");

/** What the inbox needs from its connection. */
export interface InboxHost {
  /** Calls the request handler; may throw. Returns {@link SKIP} if the request cannot be answered. */
  request(id: number, method: string, payload: unknown): unknown;
  /** Sends a response; never throws. `value` is the error when `ok` is false. */
  answer(id: number, ok: boolean, value: unknown): void;
  /** Calls the notification handler; never throws. */
  notify(method: string, payload: unknown): void;
  /** Answers a request with `OVERLOADED`. */
  overloaded(id: number): void;
  /** Stops (`true`) or restarts (`false`) reading the socket. */
  pause(paused: boolean): void;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === "object" || typeof v === "function") &&
    v !== null &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

interface Waiting {
  msg: RawMessage;
  bytes: number;
}

/** @internal */
export class Inbox {
  private inflight = 0;
  private inflightBytes = 0;
  private outgoing = 0;
  private paused = false;
  private closed = false;
  private readonly backlog: Waiting[] = [];
  private backlogBytes = 0;
  private readonly host: InboxHost;
  private readonly max: number;
  private readonly maxBytes: number;

  constructor(host: InboxHost, maxPendingRequests: number, maxPendingBytes: number) {
    this.host = host;
    this.max = Math.max(1, maxPendingRequests);
    this.maxBytes = Math.max(1, maxPendingBytes);
  }

  /** Incoming requests whose handlers have not settled yet. */
  get inFlight(): number {
    return this.inflight;
  }

  /** Messages read but waiting for a free slot. */
  get waiting(): number {
    return this.backlog.length;
  }

  /** True while the socket is paused by this inbox. */
  get readPaused(): boolean {
    return this.paused;
  }

  /** Bytes of the frames of requests in flight. */
  get inFlightBytes(): number {
    return this.inflightBytes;
  }

  /** Takes a validated `req` or `msg` message whose frame was `bytes` long. */
  push(msg: RawMessage, bytes: number): void {
    const isReq = msg.t === "req";
    if (this.backlog.length === 0 && !(isReq && this.full())) {
      this.handle(msg, bytes);
      return;
    }
    if (
      isReq &&
      this.outgoing > 0 &&
      (this.backlog.length >= this.max || this.backlogBytes + bytes > this.maxBytes)
    ) {
      this.host.overloaded(msg.i as number);
      return;
    }
    this.backlog.push({ msg, bytes });
    this.backlogBytes += bytes;
    this.flow();
  }

  private full(): boolean {
    return this.inflight >= this.max || this.inflightBytes >= this.maxBytes;
  }

  /** Tells the inbox how many of this side's own requests await responses. */
  outgoingChanged(count: number): void {
    const was = this.outgoing;
    this.outgoing = count;
    if ((was === 0) !== (count === 0)) this.flow();
  }

  /** Drops the backlog; the connection is gone and nothing can be answered any more. */
  clear(): void {
    this.closed = true;
    this.backlog.length = 0;
    this.backlogBytes = 0;
  }

  private handle(msg: RawMessage, bytes: number): void {
    if (msg.t === "msg") {
      this.host.notify(msg.m as string, msg.a);
      return;
    }
    const id = msg.i as number;
    let result: unknown;
    try {
      result = this.host.request(id, msg.m as string, msg.a);
    } catch (e) {
      this.host.answer(id, false, e);
      return;
    }
    if (result === SKIP) return;
    if (!isThenable(result)) {
      this.host.answer(id, true, result);
      return;
    }
    this.inflight++;
    this.inflightBytes += bytes;
    if (this.full()) this.flow();
    // Both callbacks are given, so a rejecting handler can never become an unhandled rejection.
    Promise.resolve(result).then(
      (v) => this.done(id, bytes, true, v),
      (e: unknown) => this.done(id, bytes, false, e),
    );
  }

  private done(id: number, bytes: number, ok: boolean, value: unknown): void {
    this.inflight--;
    this.inflightBytes -= bytes;
    this.host.answer(id, ok, value);
    if (this.backlog.length > 0) this.pump();
    else if (this.paused) this.flow();
  }

  private pump(): void {
    while (this.backlog.length > 0 && !this.closed) {
      const next = this.backlog[0]!;
      if (next.msg.t === "req" && this.full()) break;
      this.backlog.shift();
      this.backlogBytes -= next.bytes;
      this.handle(next.msg, next.bytes);
    }
    this.flow();
  }

  private flow(): void {
    if (this.closed) return;
    if (!this.paused) {
      if (this.full() && this.outgoing === 0) {
        this.paused = true;
        this.host.pause(true);
      }
    } else if (
      this.outgoing > 0 ||
      (this.backlog.length === 0 &&
        this.inflight <= this.max >> 1 &&
        this.inflightBytes <= this.maxBytes / 2)
    ) {
      this.paused = false;
      this.host.pause(false);
    }
  }
}

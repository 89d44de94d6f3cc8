import type { Socket } from "node:net";
import { TimeoutError, ensureError, fromWireError, toWireError } from "../errors/index.js";
import { encodeFrame } from "./frame.js";
import { encodeFrameParts } from "./splice.js";
import type { Frame } from "./splice.js";
import type { WireClock } from "./options.js";
import { MAX_REQUEST_ID } from "./protocol.js";

/**
 * The sending half of a connection: writing frames efficiently, and keeping track of the requests
 * sent until their responses, deadlines or the connection's close settle them.
 */

/** Bounds of a connection's outgoing buffer, and what to do when they are crossed. */
export interface WriteLimits {
  /** Above this many buffered bytes, `pressure(true)`; `pressure(false)` once drained. */
  softBytes: number;
  /** Above this many, `overflow` (the connection closes). */
  hardBytes: number;
  pressure(over: boolean): void;
  overflow(buffered: number): void;
}

/**
 * Encodes frames and writes them with the socket corked until
 * the end of the current tick, so everything written in one tick (a burst of requests, the answers
 * to a chunk full of requests) leaves in a single writev syscall instead of one write per frame.
 *
 * Byte arrays of 64 KiB and more inside a message are written from their own memory, not copied
 * into the frame (see `splice.ts`): they must not change until the socket has written them.
 */
export class FrameWriter {
  private readonly socket: Socket;
  private readonly maxFrameBytes: number;
  private readonly limits: WriteLimits;
  private corked = false;
  private readonly clock: WireClock | undefined;
  private over = false;
  /** Frames written so far; the connection's idle check compares it between two ticks. */
  written = 0;

  constructor(socket: Socket, maxFrameBytes: number, limits: WriteLimits, clock?: WireClock) {
    this.socket = socket;
    this.maxFrameBytes = maxFrameBytes;
    this.limits = limits;
    this.clock = clock;
  }

  /** True once the socket's write buffer is above its high-water mark. */
  get needDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Resolves when the write buffer drained below its high-water mark, or the socket closed. */
  drain(): Promise<void> {
    const socket = this.socket;
    if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  /** Encodes and sends one message. @throws ValueTooLargeError above the frame limit. */
  send(msg: object): void {
    this.write(this.encode(msg));
  }

  /**
   * Encodes a message without sending it, so the caller can fail before registering anything.
   * With a clock, the message carries the sender's time as `c`.
   */
  encode(msg: object): Frame {
    if (this.clock !== undefined) (msg as { c?: string }).c = this.clock.stamp();
    return encodeFrameParts(msg, this.maxFrameBytes);
  }

  /** Writes an encoded frame; silently drops it once the socket no longer accepts writes. */
  write(frame: Frame): void {
    if (!this.socket.writable) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(FrameWriter.uncork, this);
    }
    if (Array.isArray(frame)) for (const piece of frame) this.socket.write(piece);
    else this.socket.write(frame);
    this.written++;
    this.check();
  }

  /**
   * Bounds what waits to be written, by bytes: past the soft bound the owner stops reading (no new
   * requests, so no new answers) until the socket drains; past the hard bound it gives up on the
   * peer. Checked after each write, since only a write makes the buffer grow.
   */
  private check(): void {
    const buffered = this.socket.writableLength;
    if (buffered > this.limits.hardBytes) {
      this.limits.overflow(buffered);
      return;
    }
    if (this.over || buffered <= this.limits.softBytes) return;
    this.over = true;
    this.limits.pressure(true);
    // Above the soft bound write() has returned false, so 'drain' comes once the buffer is empty.
    const done = (): void => {
      this.socket.off("drain", done);
      this.socket.off("close", done);
      this.over = false;
      this.limits.pressure(false);
    };
    this.socket.on("drain", done);
    this.socket.on("close", done);
  }

  /**
   * Sends the response to request `id`: `value` is the result, or the error when `ok` is false.
   * Never throws, because its callers are event and promise callbacks with nobody to catch.
   */
  respond(id: number, ok: boolean, value: unknown): void {
    if (!this.socket.writable) return;
    let frame: Frame;
    try {
      frame = ok
        ? this.encode({ t: "res", i: id, ok: true, v: value })
        : this.encode({ t: "res", i: id, ok: false, e: toWireError(value) });
    } catch (e) {
      // The result (or the error's details) cannot be encoded or is too large: say that instead,
      // without details, which are what may have failed to encode.
      const { code, message, retryable } = toWireError(ensureError(e));
      frame = encodeFrame({ t: "res", i: id, ok: false, e: { code, message, retryable } });
    }
    this.write(frame);
  }

  private static uncork(this: void, writer: FrameWriter): void {
    writer.corked = false;
    writer.socket.uncork();
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  method: string;
  timeoutMs: number;
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
    p.reject(
      new TimeoutError(
        `request ${p.method} to ${outbox.label()} timed out after ${p.timeoutMs} ms`,
        { details: { method: p.method, timeoutMs: p.timeoutMs } },
      ),
    );
  }
}

import type { Socket } from "node:net";
import { OverloadedError, ensureError, toWireError } from "../errors/index.js";
import { encodeFrame } from "./frame.js";
import { encodeFrameParts } from "./splice.js";
import type { Frame } from "./splice.js";
import type { WireClock } from "./options.js";

/**
 * The sending half of a connection's socket: encoding frames, writing them in batches, and
 * back-pressure. A burst is not a peer that stopped reading, so nothing here ever closes the
 * connection: frames beyond what the socket should buffer wait in a queue bounded by bytes, and
 * the one frame that does not fit, or that waited too long, fails alone with `OVERLOADED`.
 */

/** Bounds of a connection's outgoing bytes. */
export interface WriteLimits {
  /**
   * Bytes in the socket's own buffer above which further frames wait in the queue; the owner is
   * told `pressure(true)` then, and `pressure(false)` once the queue and the socket drained.
   */
  softBytes: number;
  /**
   * Most bytes waiting to be written, socket buffer and queue together. A frame that would pass
   * it is not queued: it fails with `OVERLOADED`. A frame that finds nothing waiting is written
   * whatever its size, so one largest frame always goes.
   */
  hardBytes: number;
  /** How long a notification or response may wait in the queue before it is dropped. */
  maxWaitMs: number;
  pressure(over: boolean): void;
  /** Names the peer in error messages. */
  label(): string;
}

/** Told, once, that a frame was not sent and why. */
export type OnDropped = (err: OverloadedError) => void;

/** A frame waiting in the queue; the handle a request keeps to withdraw it at its deadline. */
export interface Queued {
  readonly frame: Frame;
  readonly bytes: number;
  readonly dropped: OnDropped | undefined;
  timer: NodeJS.Timeout | undefined;
  /** False once written, dropped or withdrawn. */
  live: boolean;
  readonly since: number;
}

function frameBytes(frame: Frame): number {
  if (!Array.isArray(frame)) return frame.length;
  let n = 0;
  for (const piece of frame) n += piece.length;
  return n;
}

/**
 * Encodes frames and writes them with the socket corked until the end of the current tick, so
 * everything written in one tick (a burst of requests, the answers to a chunk full of requests)
 * leaves in a single writev syscall instead of one write per frame.
 *
 * Byte arrays of 64 KiB and more inside a message are written from their own memory, not copied
 * into the frame (see `splice.ts`): they must not change until the socket has written them. A
 * queued frame holds them no longer than the queue's wait limit or its request's deadline.
 */
export class FrameWriter {
  private readonly socket: Socket;
  private readonly maxFrameBytes: number;
  private readonly limits: WriteLimits;
  private readonly clock: WireClock | undefined;
  private corked = false;
  private over = false;
  /** The queue: `queue[head..]`, with withdrawn entries left in place until they reach the head. */
  private queue: Queued[] = [];
  private head = 0;
  private queuedCount = 0;
  private queuedBytes = 0;
  /** Frames written so far; the connection's idle check compares it between two ticks. */
  written = 0;
  /** Frames not sent because they did not fit or waited too long. */
  overloaded = 0;

  constructor(socket: Socket, maxFrameBytes: number, limits: WriteLimits, clock?: WireClock) {
    this.socket = socket;
    this.maxFrameBytes = maxFrameBytes;
    this.limits = limits;
    this.clock = clock;
    socket.on("drain", () => this.flush());
    socket.on("close", () => this.clear());
  }

  /** Frames waiting in the queue, and their bytes. */
  get queued(): { frames: number; bytes: number } {
    return { frames: this.queuedCount, bytes: this.queuedBytes };
  }

  /** True while frames wait in the queue or the socket's buffer is above its high-water mark. */
  get needDrain(): boolean {
    return this.queuedCount > 0 || this.socket.writableNeedDrain;
  }

  /** Resolves when the queue is empty and the socket drained, or the socket closed. */
  async drain(): Promise<void> {
    const socket = this.socket;
    while (this.needDrain && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      });
    }
  }

  /** Encodes and sends one message. @throws ValueTooLargeError above the frame limit. */
  send(msg: object, dropped?: OnDropped): void {
    this.write(this.encode(msg), dropped, this.limits.maxWaitMs);
  }

  /**
   * Encodes a message without sending it, so the caller can fail before registering anything.
   * With a clock, the message carries the sender's time as `c`.
   */
  encode(msg: object): Frame {
    if (this.clock !== undefined) (msg as { c?: string }).c = this.clock.stamp();
    return encodeFrameParts(msg, this.maxFrameBytes);
  }

  /**
   * Writes an encoded frame now if the socket has room, or queues it. Returns the queue entry
   * when it was queued (see {@link withdraw}). A frame that does not fit under the hard bound is
   * not sent and `dropped` is told so at once; one that waits longer than `waitMs` is dropped
   * then (without `waitMs` only its owner can withdraw it). Once the socket no longer accepts
   * writes, frames are dropped silently: the connection's close fails what waits for answers.
   */
  write(frame: Frame, dropped?: OnDropped, waitMs?: number): Queued | undefined {
    const socket = this.socket;
    if (!socket.writable) return undefined;
    if (this.queuedCount === 0 && this.room()) {
      this.put(frame);
      return undefined;
    }
    const bytes = frameBytes(frame);
    const waiting = socket.writableLength + this.queuedBytes;
    if (waiting + bytes > this.limits.hardBytes) {
      this.overloaded++;
      const message = `${bytes} bytes to ${this.limits.label()} not sent: ${waiting} bytes already wait to be written (limit ${this.limits.hardBytes})`;
      dropped?.(new OverloadedError(message, { details: { bytes, waiting } }));
      return undefined;
    }
    const q: Queued = { frame, bytes, dropped, timer: undefined, live: true, since: Date.now() };
    if (waitMs !== undefined) {
      q.timer = setTimeout(FrameWriter.expire, waitMs, this, q);
      q.timer.unref();
    }
    this.queue.push(q);
    this.queuedCount++;
    this.queuedBytes += bytes;
    this.setOver(true);
    return q;
  }

  /** Takes a frame out of the queue unsent; false if it was already written or dropped. */
  withdraw(q: Queued): boolean {
    if (!q.live) return false;
    this.take(q);
    return true;
  }

  /**
   * Sends the response to request `id`: `value` is the result, or the error when `ok` is false.
   * Never throws, because its callers are event and promise callbacks with nobody to catch. A
   * response that cannot wait in the queue is replaced by a small `OVERLOADED` error, so the
   * requester learns of it without waiting for its deadline.
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
    const instead = (err: OverloadedError): void => {
      const e = { code: err.code, message: err.message, retryable: true };
      this.write(encodeFrame({ t: "res", i: id, ok: false, e }), undefined, this.limits.maxWaitMs);
    };
    this.write(frame, instead, this.limits.maxWaitMs);
  }

  /**
   * True while the socket may take another frame. Below its high-water mark it always may: no
   * 'drain' would come to flush a queue then (the soft bound may be set that low in tests).
   */
  private room(): boolean {
    const socket = this.socket;
    return socket.writableLength <= this.limits.softBytes || !socket.writableNeedDrain;
  }

  private put(frame: Frame): void {
    const socket = this.socket;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(FrameWriter.uncork, this);
    }
    if (Array.isArray(frame)) for (const piece of frame) socket.write(piece);
    else socket.write(frame);
    this.written++;
    if (socket.writableLength > this.limits.softBytes) this.setOver(true);
  }

  /**
   * The socket emptied its buffer: write what waits, up to the soft bound again. Past it a write
   * has returned false, so another 'drain' follows.
   */
  private flush(): void {
    const socket = this.socket;
    while (this.head < this.queue.length && this.room()) {
      const q = this.queue[this.head++]!;
      if (!q.live) continue;
      this.take(q);
      this.put(q.frame);
    }
    this.compact();
    if (this.queuedCount === 0 && socket.writableLength <= this.limits.softBytes) {
      this.setOver(false);
    }
  }

  private take(q: Queued): void {
    q.live = false;
    clearTimeout(q.timer);
    this.queuedCount--;
    this.queuedBytes -= q.bytes;
    if (this.queuedCount === 0) {
      this.queue = [];
      this.head = 0;
    }
  }

  /** Drops what was withdrawn from the front, and reclaims the array's dead prefix now and then. */
  private compact(): void {
    while (this.head < this.queue.length && !this.queue[this.head]!.live) this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private setOver(over: boolean): void {
    if (this.over === over) return;
    this.over = over;
    this.limits.pressure(over);
  }

  /** The socket closed: nothing queued will be sent. Waiting requests fail with the close. */
  private clear(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const q = this.queue[i]!;
      q.live = false;
      clearTimeout(q.timer);
    }
    this.queue = [];
    this.head = 0;
    this.queuedCount = 0;
    this.queuedBytes = 0;
  }

  private static expire(this: void, writer: FrameWriter, q: Queued): void {
    if (!q.live) return;
    writer.take(q);
    writer.compact();
    writer.overloaded++;
    const ms = Date.now() - q.since;
    const message = `${q.bytes} bytes to ${writer.limits.label()} not sent: they waited ${ms} ms for the peer to read`;
    q.dropped?.(new OverloadedError(message, { details: { bytes: q.bytes, waitedMs: ms } }));
  }

  private static uncork(this: void, writer: FrameWriter): void {
    writer.corked = false;
    writer.socket.uncork();
  }
}

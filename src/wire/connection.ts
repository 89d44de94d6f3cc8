import type { Socket } from "node:net";
import {
  BadFrameError,
  ClosedError,
  InvalidArgumentError,
  OverloadedError,
  TimeoutError,
  ensureError,
} from "../errors/index.js";
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from "./frame.js";
import type { RawMessage } from "./frame.js";
import { Inbox, SKIP } from "./inbox.js";
import type { InboxHost } from "./inbox.js";
import { HANDSHAKE_REQUEST_ID, IDLE_NOTICE } from "./protocol.js";
import type { PeerIdentity, PeerRole } from "./protocol.js";
import type {
  ConnectionSetup,
  ConnectionStats,
  HandshakeControl,
  Handlers,
  RequestOptions,
} from "./options.js";
import { Outbox } from "./outgoing.js";
import type { Frame } from "./splice.js";
import { FrameWriter } from "./writer.js";
import type { OnDropped } from "./writer.js";

/** Default of {@link ConnectionOptions.maxWriteBufferBytes}. */
const DEFAULT_WRITE_BUFFER_BYTES = 16 * 1024 * 1024;

/** Runs a user callback that nobody could catch for: a throw is reported, never propagated. */
function guard(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    process.emitWarning(`stratus wire: ${what} handler threw: ${ensureError(e).message}`);
  }
}

type State = "handshake" | "open" | "closing" | "closed";

/**
 * One end of an established Stratus connection. Symmetric: either end may send requests and
 * notifications, and answers the other's through its {@link Handlers}.
 *
 * Create one with `connect()` or receive it from `WireServer`; the constructor is internal.
 *
 * @example
 * ```ts
 * const conn = await connect("stratus://127.0.0.1:7000", { token, role: "client", id: "cli-1" });
 * const sum = await conn.request<number>("add", [1, 2], { timeoutMs: 1000 });
 * conn.notify("log", { line: "done" });
 * await conn.close();
 * ```
 */
export class Connection {
  /** The peer's id (its hello's `id`, or the listener's id from the welcome). Set once open. */
  get remoteId(): string {
    return this.peer.id;
  }
  /** The role the connecting peer declared; undefined on the connecting side. */
  get role(): PeerRole | undefined {
    return this.peer.role;
  }
  /** The listener's `info` from the welcome; undefined on the listening side. */
  get info(): unknown {
    return this.peer.info;
  }
  /** Settles, never rejects, when the socket has closed: with why, or undefined for a clean end. */
  readonly closed: Promise<Error | undefined>;

  private readonly socket: Socket;
  private readonly setup: ConnectionSetup;
  private readonly decoder: FrameDecoder;
  private readonly inbox: Inbox;
  private handlers: Handlers;
  private peer: PeerIdentity = { id: "" };
  private state: State = "handshake";
  private opened = false;
  private closedLocally = false;
  private reason: Error | undefined;
  private resolveClosed!: (reason: Error | undefined) => void;
  private readonly outbox: Outbox;
  private readonly writer: FrameWriter;
  private timer: NodeJS.Timeout | undefined;
  private readonly pausedBy = new Set<"inbox" | "write">();
  /** The writer is over its soft bound (see {@link updateWritePause}). */
  private writeOver = false;
  /** Notifications dropped unsent with no one to tell; warned about once. */
  private droppedNotices = 0;
  /** Chunks read so far, and the activity count at the last idle check. */
  private chunks = 0;
  private seenActivity = -1;
  private idleTimer: NodeJS.Timeout | undefined;
  private idle = false;
  private readonly maxFrameBytes: number;
  private readonly requestTimeoutMs: number;

  /** @internal Use `connect()` or `WireServer.listen()`. */
  constructor(socket: Socket, setup: ConnectionSetup) {
    this.socket = socket;
    this.setup = setup;
    this.handlers = setup.handlers ?? {};
    this.maxFrameBytes = setup.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.requestTimeoutMs = setup.requestTimeoutMs ?? 30_000;
    this.writer = new FrameWriter(
      socket,
      this.maxFrameBytes,
      {
        softBytes: setup.maxWriteBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES,
        hardBytes: setup.maxWriteBufferHardBytes ?? 2 * this.maxFrameBytes,
        maxWaitMs: setup.maxSendWaitMs ?? this.requestTimeoutMs,
        pressure: (over) => {
          this.writeOver = over;
          this.updateWritePause();
        },
        label: () => this.label(),
      },
      setup.clock,
    );
    this.decoder = new FrameDecoder({ maxFrameBytes: setup.handshakeMaxFrameBytes });
    this.inbox = new Inbox(
      this.inboxHost(),
      setup.maxPendingRequests ?? 4096,
      setup.maxPendingBytes ?? 2 * this.maxFrameBytes,
    );
    // Responses to our own requests must stay readable even while incoming work is throttled.
    this.outbox = new Outbox(
      () => this.label(),
      (n) => {
        this.inbox.outgoingChanged(n);
        this.updateWritePause();
      },
    );
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    // Request/response traffic is latency-bound; Nagle would hold back every small frame.
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    // A listener must exist or a socket error would crash the process; 'close' follows it.
    socket.on("error", (err) => (this.reason ??= err));
    socket.on("close", () => this.onClose());
    this.timer = setTimeout(Connection.handshakeExpired, setup.handshakeTimeoutMs, this);
    this.timer.unref();
  }

  /** Replaces the handlers; messages already being handled keep the old ones. */
  setHandlers(handlers: Handlers): void {
    this.handlers = handlers;
  }

  /**
   * True when this connection was closed (or is closing) for idleness, by either side: no failure,
   * so whoever holds it opens a new one on next use instead of treating the peer as lost.
   */
  get closedForIdleness(): boolean {
    return this.idle;
  }

  /** Counters for metrics and tests. */
  get stats(): ConnectionStats {
    const unsent = this.writer.queued;
    return {
      outgoing: this.outbox.size,
      handling: this.inbox.inFlight,
      handlingBytes: this.inbox.inFlightBytes,
      queued: this.inbox.waiting,
      readPaused: this.pausedBy.size > 0,
      unsentFrames: unsent.frames,
      unsentBytes: unsent.bytes,
      overloaded: this.writer.overloaded,
    };
  }

  /**
   * True while frames wait to be written (the socket's buffer is full, or frames are queued
   * behind it); wait for {@link drain} before sending more.
   */
  get writableNeedDrain(): boolean {
    return this.writer.needDrain;
  }

  /** Resolves once nothing waits to be written (queue empty, socket drained), or the socket closed. */
  drain(): Promise<void> {
    return this.writer.drain();
  }

  /**
   * Sends a request and resolves with the peer's answer.
   *
   * Rejects with the peer's error rebuilt as its StratusError class; with `TIMEOUT` (retryable)
   * after the deadline; with `CLOSED` (retryable) if the connection closes first; with
   * `VALUE_TOO_LARGE` if the request exceeds the frame limit; with `OVERLOADED` (retryable, and
   * the request was not sent) if it does not fit in the send queue
   * ({@link ConnectionOptions.maxWriteBufferHardBytes}) or was still queued at its deadline.
   *
   * @example
   * ```ts
   * const out = await conn.request<Uint8Array>("call", { fn: "inc", args }, { timeoutMs: 5000 });
   * ```
   */
  request<T = unknown>(method: string, payload?: unknown, options?: RequestOptions): Promise<T> {
    if (this.state !== "open") {
      const message = `cannot send ${method}: connection to ${this.label()} is closed`;
      return Promise.reject(new ClosedError(message, { retryable: true }));
    }
    const id = this.outbox.allocate();
    let frame: Frame;
    try {
      frame = this.writer.encode({ t: "req", i: id, m: method, a: payload });
    } catch (e) {
      return Promise.reject(ensureError(e));
    }
    const answer = this.outbox.track<T>(id, method, options?.timeoutMs ?? this.requestTimeoutMs);
    const queued = this.writer.write(frame, (err) => this.outbox.fail(id, err));
    if (queued !== undefined) this.outbox.queued(id, () => this.writer.withdraw(queued));
    return answer;
  }

  /**
   * Sends a notification. Returns false, sending nothing, if the connection is closing or closed.
   *
   * While the peer reads slower than this side writes, the notification waits in the send queue.
   * If it does not fit there, or is still queued after `maxSendWaitMs`, it is dropped and
   * `dropped` is told with an `OVERLOADED` error (without `dropped`, the first such drop on this
   * connection is reported with `process.emitWarning`). The connection stays open either way.
   *
   * @throws ValueTooLargeError if the message exceeds the frame limit.
   * @example
   * ```ts
   * conn.notify("heartbeat", { load: 0.4 });
   * conn.notify("trigger", t, (err) => fail(t, err));
   * ```
   */
  notify(method: string, payload?: unknown, dropped?: OnDropped): boolean {
    if (this.state !== "open") return false;
    this.writer.send({ t: "msg", m: method, a: payload }, dropped ?? this.warnDropped);
    return true;
  }

  private readonly warnDropped: OnDropped = (err) => {
    if (this.droppedNotices++ > 0) return;
    process.emitWarning(`stratus wire: a notification was dropped: ${err.message}`);
  };

  /**
   * Ends the connection gracefully: queued frames are flushed, then the socket is ended. Requests
   * still unanswered when the socket closes reject with `CLOSED`. Resolves once closed.
   */
  close(): Promise<void> {
    if (this.state === "handshake" || this.state === "open") {
      this.closedLocally = true;
      this.end();
    }
    return this.closed.then(() => undefined);
  }

  /** Closes the connection at once, discarding unsent frames. `err` becomes the close reason. */
  destroy(err?: Error): void {
    if (this.state === "closed") return;
    if (err === undefined) this.closedLocally = true;
    this.reason ??= err;
    this.state = "closing";
    this.socket.destroy();
  }

  private end(): void {
    this.state = "closing";
    this.socket.end();
    clearTimeout(this.timer);
    this.timer = setTimeout(Connection.closeExpired, this.setup.closeTimeoutMs ?? 5000, this);
    this.timer.unref();
  }

  private static handshakeExpired(this: void, conn: Connection): void {
    conn.destroy(new TimeoutError("handshake not completed in time"));
  }

  /**
   * Runs every idle period: a connection that read and wrote nothing since the last run and has
   * nothing in flight either way is closed, with a notice first. So it closes between one and two
   * periods after its last traffic, at the cost of a counter per chunk instead of a clock read.
   */
  private static idleCheck(this: void, conn: Connection): void {
    const activity = conn.chunks + conn.writer.written;
    const busy =
      conn.outbox.size > 0 ||
      conn.inbox.inFlight > 0 ||
      conn.inbox.waiting > 0 ||
      conn.socket.writableLength > 0;
    if (activity !== conn.seenActivity || busy || conn.state !== "open") {
      conn.seenActivity = activity;
      return;
    }
    conn.idle = true;
    conn.writer.send({ t: "msg", m: IDLE_NOTICE });
    void conn.close();
  }

  private static closeExpired(this: void, conn: Connection): void {
    conn.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.chunks++;
    try {
      this.decoder.feed(chunk, this.sink);
    } catch (e) {
      // Frames before the bad one in this chunk have been acted on already; this one ends it.
      this.destroy(ensureError(e));
    }
  }

  /** Takes each decoded message; returning false stops decoding once the connection is dying. */
  private readonly sink = (msg: RawMessage, bytes: number): boolean => {
    if (this.state === "closed" || this.socket.destroyed) return false;
    if (this.state === "handshake") this.setup.gate(msg, this.control);
    else if (this.opened) this.receive(msg, bytes);
    // else: the handshake was refused and we are ending; nothing more is read as a message.
    return true;
  };

  private receive(msg: RawMessage, bytes: number): void {
    if (msg.c !== undefined) this.setup.clock?.observe(msg.c);
    switch (msg.t) {
      case "res":
        if (typeof msg.i === "number")
          return this.outbox.settle(msg.i, msg.ok === true, msg.v, msg.e);
        break;
      case "req":
        if (typeof msg.i === "number" && typeof msg.m === "string") {
          return this.inbox.push(msg, bytes);
        }
        break;
      case "msg":
        if (msg.m === IDLE_NOTICE) {
          // The listener found us idle and is closing: stop sending, and end our side too. Only a
          // listener may say so; from a connecting peer (role set) it means nothing.
          if (this.peer.role !== undefined) return;
          this.idle = true;
          void this.close();
          return;
        }
        if (typeof msg.m === "string") return this.inbox.push(msg, bytes);
        break;
    }
    this.destroy(new BadFrameError(`malformed or unexpected message of type ${msg.t}`));
  }

  private readonly control: HandshakeControl = {
    send: (msg) => this.writer.send(msg),
    accept: (peer) => {
      clearTimeout(this.timer);
      this.state = "open";
      this.opened = true;
      this.peer = peer;
      this.decoder.maxFrameBytes = this.maxFrameBytes;
      const idleMs = this.setup.idleTimeoutMs ?? 0;
      if (idleMs > 0) {
        this.idleTimer = setInterval(Connection.idleCheck, idleMs, this);
        this.idleTimer.unref();
      }
      this.setup.onOpen?.(this);
    },
    refuse: (err, answer) => {
      if (answer) this.writer.respond(HANDSHAKE_REQUEST_ID, false, err);
      this.reason ??= err;
      this.end();
    },
  };

  private inboxHost(): InboxHost {
    return {
      request: (_id, method, payload) => {
        // Once we have ended our side there is no way to answer; the peer sees CLOSED instead.
        if (this.state !== "open") return SKIP;
        const h = this.handlers.request;
        if (h === undefined) throw new InvalidArgumentError(`no request handler for ${method}`);
        return h(method, payload, this);
      },
      answer: (id, ok, value) => this.writer.respond(id, ok, value),
      notify: (method, payload) =>
        guard("notify", () => this.handlers.notify?.(method, payload, this)),
      overloaded: (id) => {
        const err = new OverloadedError(`${this.label()} has too many queued requests`);
        this.writer.respond(id, false, err);
      },
      pause: (paused) => this.setPaused("inbox", paused),
    };
  }

  /**
   * Past the writer's soft bound, reading stops too: a peer that does not read its answers must
   * not make us take more requests. But not while this side awaits answers of its own, like the
   * inbox's pause: two sides that each wait for the other to read would otherwise never move.
   */
  private updateWritePause(): void {
    this.setPaused("write", this.writeOver && this.outbox.size === 0);
  }

  /**
   * Reading stops while either the inbox is full (too many requests in handling) or the outgoing
   * buffer is over its bound (see {@link updateWritePause}).
   */
  private setPaused(why: "inbox" | "write", paused: boolean): void {
    const was = this.pausedBy.size > 0;
    if (paused) this.pausedBy.add(why);
    else this.pausedBy.delete(why);
    const now = this.pausedBy.size > 0;
    if (was === now || this.state === "closed") return;
    if (now) this.socket.pause();
    else this.socket.resume();
    guard("backpressure", () => this.handlers.backpressure?.(this, now));
  }

  private label(): string {
    const { id } = this.peer;
    return id !== "" ? id : `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  private onClose(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this.timer);
    clearInterval(this.idleTimer);
    this.inbox.clear();
    const reason = this.reason;
    const why = reason?.message ?? (this.closedLocally ? "closed locally" : "closed by the peer");
    const peer = this.label();
    this.outbox.failAll((method) => {
      const message = `connection to ${peer} closed before ${method} was answered: ${why}`;
      return new ClosedError(message, { retryable: true, cause: reason, details: { method } });
    });
    const close = this.handlers.close;
    if (this.opened && close !== undefined) guard("close", () => close(this, reason));
    this.resolveClosed(reason);
  }
}

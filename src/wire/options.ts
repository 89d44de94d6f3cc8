import type { StratusError } from "../errors/index.js";
import type { Connection } from "./connection.js";
import type { RawMessage } from "./frame.js";
import type { PeerIdentity } from "./protocol.js";

/**
 * The option and callback shapes of connections. Kept apart from `connection.ts` so that file is
 * about behaviour; the import of `Connection` here is type-only.
 */

/**
 * What a connection does with what its peer sends. All are optional; every callback is guarded so
 * a throwing handler can neither crash the process nor break the connection.
 */
export interface Handlers {
  /**
   * Answers a request. Return the response payload or a promise of it; throw or reject to answer
   * with an error (StratusErrors keep their code, anything else arrives as `INTERNAL`). Unknown
   * methods are the handler's to refuse, e.g. with `NoSuchFunctionError`.
   */
  request?: (method: string, payload: unknown, conn: Connection) => unknown;
  /** Receives a notification. Exceptions are reported with `process.emitWarning` and dropped. */
  notify?: (method: string, payload: unknown, conn: Connection) => void;
  /** Called once when an established connection closes; `err` is why, if it was not a clean end. */
  close?: (conn: Connection, err?: Error) => void;
  /** Called when the connection stops (`true`) or resumes (`false`) reading, for metrics and logs. */
  backpressure?: (conn: Connection, paused: boolean) => void;
}

/**
 * A hybrid logical clock as the transport sees it. With one, every frame a connection sends
 * carries the sender's current time (`c`), and every time a frame carries is observed, so a
 * process's clock is past everything that causally precedes what it is doing now, whatever its
 * wall clock says. `HybridClock` implements it.
 */
export interface WireClock {
  /** The current time, to send. */
  stamp(): string;
  /** A time received from a peer; malformed ones must be ignored. */
  observe(ts: unknown): void;
}

/** Tunables shared by both ends of a connection. */
export interface ConnectionOptions {
  /** Stamps outgoing frames and observes incoming ones (see {@link WireClock}). */
  clock?: WireClock;
  /** Largest frame payload sent or accepted, in bytes (default 128 MiB). */
  maxFrameBytes?: number;
  /** Incoming requests handled at once before the socket stops being read (default 4096). */
  maxPendingRequests?: number;
  /**
   * Bytes of incoming request frames handled at once before the socket stops being read (default
   * twice the frame limit, 256 MiB): a handler holds its request's arguments until it answers.
   */
  maxPendingBytes?: number;
  /** Deadline of a request unless `request()` is given one (default 30 s). */
  requestTimeoutMs?: number;
  /**
   * Bytes in the socket's buffer above which further messages wait in this connection's send
   * queue until the socket drains (default 16 MiB). Meanwhile the connection also stops reading
   * its peer, unless it awaits answers of its own, so a peer that sends requests but does not
   * read the answers is slowed down.
   */
  maxWriteBufferBytes?: number;
  /**
   * Most bytes waiting to be written, socket buffer and send queue together (default twice the
   * frame limit, 256 MiB). A message that would pass it is not sent and fails alone with
   * `OVERLOADED`; a message that finds nothing waiting is sent whatever its size. The
   * connection is never closed for this: a burst is not a peer that stopped reading.
   */
  maxWriteBufferHardBytes?: number;
  /**
   * How long a notification or a response may wait in the send queue before it is dropped with
   * `OVERLOADED` (default `requestTimeoutMs`). A request waits until its own deadline, and fails
   * with `OVERLOADED` (not `TIMEOUT`) if it was never sent.
   */
  maxSendWaitMs?: number;
  /** How long a graceful `close()` waits for the peer before destroying the socket (default 5 s). */
  closeTimeoutMs?: number;
}

/** A snapshot of a connection's queues; see {@link Connection.stats}. */
export interface ConnectionStats {
  /** This side's requests awaiting responses. */
  outgoing: number;
  /** Incoming requests whose handlers have not settled. */
  handling: number;
  /** Bytes of the frames of those requests. */
  handlingBytes: number;
  /** Incoming messages read but waiting for a handler slot. */
  queued: number;
  /** True while the socket is not read because of back-pressure. */
  readPaused: boolean;
  /** Outgoing messages waiting in the send queue for the socket to drain, and their bytes. */
  unsentFrames: number;
  unsentBytes: number;
  /** Outgoing messages dropped with `OVERLOADED` so far (did not fit, or waited too long). */
  overloaded: number;
}

/** Per-call options of {@link Connection.request}. */
export interface RequestOptions {
  /** Rejects with `TIMEOUT` (retryable) if no response arrived within this many milliseconds. */
  timeoutMs?: number;
}

/** What the handshake code may do with a connection before it is established. @internal */
export interface HandshakeControl {
  /** Sends a handshake frame. */
  send(msg: object): void;
  /** Completes the handshake: later frames are requests, responses and notifications. */
  accept(peer: PeerIdentity): void;
  /** Fails the handshake: optionally answers with `err` as request 0's error, then ends. */
  refuse(err: StratusError, answer: boolean): void;
}

/** How the transport builds a connection; not for callers. @internal */
export interface ConnectionSetup extends ConnectionOptions {
  /** Receives every frame until it calls `accept` or `refuse`. */
  gate: (msg: RawMessage, ctl: HandshakeControl) => void;
  handshakeTimeoutMs: number;
  /** Close the connection once it has been idle this long (0: never). See WireServerOptions. */
  idleTimeoutMs?: number | undefined;
  /** Frame limit before the handshake completes, so strangers cannot make us buffer 128 MiB. */
  handshakeMaxFrameBytes: number;
  handlers?: Handlers | undefined;
  onOpen?: (conn: Connection) => void;
}

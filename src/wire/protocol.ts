import { createHash, timingSafeEqual } from "node:crypto";
import { BadFrameError, UnauthorizedError, fromWireError } from "../errors/index.js";
import type { WireError } from "../errors/index.js";
import type { ConnectionSetup } from "./options.js";

/**
 * The messages of the Stratus wire protocol. Every frame carries one of these; `t` says which.
 * Short field names because they are on every frame and msgpack spells keys out in full.
 *
 * ```
 * hello    { t: "hello", v: 1, token, role, id }       first frame of the connecting side
 * welcome  { t: "welcome", id, info }                   the listener's answer to a good hello
 * req      { t: "req", i, m, a }                        request: id, method, payload
 * res      { t: "res", i, ok: true, v }                 success response to request `i`
 * res      { t: "res", i, ok: false, e }                error response (`e` is a WireError)
 * msg      { t: "msg", m, a }                           notification: method, payload, no answer
 * msg      { t: "msg", m: "wire.idle" }                 the listener is closing an idle connection
 * ```
 *
 * A refused handshake is answered with an error `res` for request id 0, which is never used for
 * real requests, so the connecting side reads it with the same code path as any error response.
 */

/** Version of the protocol spoken in `hello`; bumped on incompatible changes. */
export const PROTOCOL_VERSION = 1;

/** What a peer says it is in its hello. */
export type PeerRole = "client" | "node" | "scheduler";

/** Every valid {@link PeerRole}. */
export const PEER_ROLES: readonly PeerRole[] = ["client", "node", "scheduler"];

/** The connecting side's first frame. */
export interface HelloMessage {
  t: "hello";
  v: number;
  token: string;
  role: PeerRole;
  id: string;
}

/** The listener's answer to an accepted hello. */
export interface WelcomeMessage {
  t: "welcome";
  id: string;
  info: unknown;
}

/** A request; `i` is unique among the sender's outstanding requests and never 0. */
export interface RequestMessage {
  t: "req";
  i: number;
  m: string;
  a: unknown;
}

/** The answer to request `i`. */
export type ResponseMessage =
  { t: "res"; i: number; ok: true; v: unknown } | { t: "res"; i: number; ok: false; e: WireError };

/** A one-way message. */
export interface NotifyMessage {
  t: "msg";
  m: string;
  a: unknown;
}

/**
 * Notification a listener sends before it closes a connection for idleness. The connection
 * consumes it itself, so the other side knows the close is no failure of the peer and simply
 * reconnects on next use.
 */
export const IDLE_NOTICE = "wire.idle";

/** Request id reserved for the handshake's error answer. */
export const HANDSHAKE_REQUEST_ID = 0;

/** Largest request id before ids wrap around to 1; keeps ids in msgpack's 5-byte uint32 form. */
export const MAX_REQUEST_ID = 0x7fffffff;

/** Who the peer at the other end of a connection is, as established by the handshake. */
export interface PeerIdentity {
  /** The peer's id: the `id` of its hello, or the listener's id from its welcome. */
  id: string;
  /** The role the connecting peer declared; undefined on the connecting side itself. */
  role?: PeerRole | undefined;
  /** The listener's `info` object from its welcome; undefined on the listening side. */
  info?: unknown;
}

/** True when `v` is a well-formed hello (any version; the listener checks the version itself). */
export function isHello(v: { t: string; [k: string]: unknown }): v is HelloMessage & {
  [k: string]: unknown;
} {
  return (
    v.t === "hello" &&
    typeof v.v === "number" &&
    typeof v.token === "string" &&
    typeof v.id === "string" &&
    (PEER_ROLES as readonly unknown[]).includes(v.role)
  );
}

/** True when `v` is a well-formed welcome. */
export function isWelcome(v: { t: string; [k: string]: unknown }): v is WelcomeMessage & {
  [k: string]: unknown;
} {
  return v.t === "welcome" && typeof v.id === "string";
}

/**
 * The handshake: the connecting side speaks first with a hello carrying the cluster token; the
 * listener answers with a welcome, or with an `UNAUTHORIZED` error response (request id 0) and
 * ends the connection. Nothing but a hello is accepted before the welcome, and until then frames
 * are limited to {@link HANDSHAKE_MAX_FRAME_BYTES}, so an unauthenticated peer can make the
 * listener buffer at most that much.
 */

/** Frame limit before the handshake completes; a hello is a few hundred bytes. */
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024;

/** Default time a connection may take from accept/connect to a completed handshake. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;

type Gate = ConnectionSetup["gate"];

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * A constant-time token check. Comparing SHA-256 digests instead of the tokens themselves makes
 * both sides of `timingSafeEqual` the same length, so not even the token's length leaks.
 */
export function tokenChecker(expected: string): (presented: string) => boolean {
  const want = digest(expected);
  return (presented) => timingSafeEqual(want, digest(presented));
}

/** The connecting side's first frame. */
export function helloMessage(token: string, role: PeerRole, id: string): HelloMessage {
  return { t: "hello", v: PROTOCOL_VERSION, token, role, id };
}

/**
 * The listener's side: accepts a hello with the right version and token, answering with a
 * welcome that carries the listener's id and `info`; refuses anything else with `UNAUTHORIZED`.
 */
export function listenerGate(token: string, id: string, info: unknown): Gate {
  const check = tokenChecker(token);
  return (msg, ctl) => {
    if (!isHello(msg)) {
      ctl.refuse(new UnauthorizedError(`expected a hello as the first frame, got ${msg.t}`), true);
    } else if (msg.v !== PROTOCOL_VERSION) {
      ctl.refuse(
        new UnauthorizedError(
          `protocol version ${msg.v} is not supported; this listener speaks ${PROTOCOL_VERSION}`,
        ),
        true,
      );
    } else if (!check(msg.token)) {
      ctl.refuse(new UnauthorizedError("wrong cluster token"), true);
    } else {
      // The welcome goes out before accept() runs the connection callbacks, so it is the first
      // frame the peer reads even if those callbacks send right away.
      ctl.send({ t: "welcome", id, info });
      ctl.accept({ id: msg.id, role: msg.role });
    }
  };
}

/**
 * The connecting side: a welcome completes the handshake; an error response to request 0 fails
 * it with the listener's error (`UNAUTHORIZED`); anything else is a protocol violation.
 */
export function connectorGate(): Gate {
  return (msg, ctl) => {
    if (isWelcome(msg)) {
      ctl.accept({ id: msg.id, info: msg.info });
    } else if (msg.t === "res" && msg.i === HANDSHAKE_REQUEST_ID && msg.ok === false) {
      ctl.refuse(fromWireError(msg.e), false);
    } else {
      ctl.refuse(new BadFrameError(`expected a welcome, got a ${msg.t} frame`), false);
    }
  };
}

import { connect as netConnect } from "node:net";
import { isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import {
  ClosedError,
  InvalidArgumentError,
  TimeoutError,
  ensureError,
  isStratusError,
} from "../errors/index.js";
import { Connection } from "./connection.js";
import type { ConnectionOptions, Handlers } from "./options.js";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame } from "./frame.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  PEER_ROLES,
  connectorGate,
  helloMessage,
} from "./protocol.js";
import type { PeerRole } from "./protocol.js";

/** A TCP endpoint of a Stratus listener. */
export interface StratusAddress {
  host: string;
  port: number;
  /** True for `stratuss://`: the connection runs over TLS. */
  tls?: boolean;
}

/** How a client checks a TLS listener's certificate (for `stratuss://` addresses). */
export interface TlsClientOptions {
  /** PEM certificate(s) to trust instead of the system's CAs (a self-signed cluster's cert). */
  ca?: string | Buffer;
  /** Refuse listeners whose certificate does not verify. @default true */
  rejectUnauthorized?: boolean;
}

/** Options of {@link connect}. */
export interface ConnectOptions extends ConnectionOptions {
  /** The cluster token; the listener refuses the connection with `UNAUTHORIZED` if it differs. */
  token: string;
  /** What this process is, as declared in the hello. */
  role: PeerRole;
  /** This process's id, as declared in the hello (the listener's `conn.remoteId`). */
  id: string;
  /** Deadline for TCP connect plus handshake (default 5 s); past it `connect` rejects with `TIMEOUT`. */
  timeoutMs?: number;
  /** How to answer the listener's requests and notifications, and learn of the close. */
  handlers?: Handlers;
  /** Certificate checks of `stratuss://` listeners. */
  tls?: TlsClientOptions;
}

function badUrl(url: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid stratus URL ${JSON.stringify(url)}: ${why}`, {
    details: { url },
  });
}

/**
 * Parses `stratus://host:port` (IPv6 hosts in brackets, `stratus://[::1]:7000`).
 *
 * @throws InvalidArgumentError for another scheme, a missing or out-of-range port, credentials,
 * or anything after the port.
 * @example
 * ```ts
 * parseStratusUrl("stratus://10.0.0.5:7000"); // { host: "10.0.0.5", port: 7000 }
 * ```
 */
export function parseStratusUrl(url: string): StratusAddress {
  if (typeof url !== "string") throw badUrl(String(url), "not a string");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl(url, "not a URL (expected stratus://host:port)");
  }
  if (u.protocol !== "stratus:" && u.protocol !== "stratuss:") {
    throw badUrl(url, "the scheme must be stratus:// or stratuss:// (TLS)");
  }
  if (u.username !== "" || u.password !== "") throw badUrl(url, "credentials are not allowed");
  if ((u.pathname !== "" && u.pathname !== "/") || u.search !== "" || u.hash !== "") {
    throw badUrl(url, "nothing may follow host:port");
  }
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  if (host === "") throw badUrl(url, "the host is missing");
  if (u.port === "") throw badUrl(url, "the port is missing");
  const port = Number(u.port);
  if (!(port >= 1 && port <= 65535)) throw badUrl(url, "the port must be 1-65535");
  return u.protocol === "stratuss:" ? { host, port, tls: true } : { host, port };
}

/**
 * Formats an address as `stratus://host:port`, bracketing IPv6 hosts.
 *
 * @example
 * ```ts
 * formatStratusUrl({ host: "::1", port: 7000 }); // "stratus://[::1]:7000"
 * ```
 */
export function formatStratusUrl(addr: StratusAddress): string {
  const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
  return `${addr.tls === true ? "stratuss" : "stratus"}://${host}:${addr.port}`;
}

function checkAddress(a: StratusAddress): StratusAddress {
  if (typeof a?.host !== "string" || a.host === "") {
    throw InvalidArgumentError.field("host", "must be a non-empty string");
  }
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) {
    throw InvalidArgumentError.field("port", "must be an integer in 1-65535");
  }
  return a;
}

function checkOptions(o: ConnectOptions): void {
  if (typeof o.token !== "string") throw InvalidArgumentError.field("token", "must be a string");
  if (!PEER_ROLES.includes(o.role)) {
    throw InvalidArgumentError.field("role", `must be one of ${PEER_ROLES.join(", ")}`);
  }
  if (typeof o.id !== "string" || o.id === "") {
    throw InvalidArgumentError.field("id", "must be a non-empty string");
  }
}

/** Turns why a handshake failed into what `connect` rejects with. */
function connectError(url: string, reason: Error | undefined, timeoutMs: number): Error {
  if (reason instanceof TimeoutError) {
    return new TimeoutError(`connecting to ${url} timed out after ${timeoutMs} ms`, {
      cause: reason,
    });
  }
  // UNAUTHORIZED from the listener, BAD_FRAME from a confused one: keep the code.
  if (isStratusError(reason)) return reason;
  const why = reason === undefined ? "the listener closed the connection" : reason.message;
  const details: Record<string, unknown> = { url };
  // Keep the errno code (ECONNREFUSED, EHOSTUNREACH…) where callers and logs can branch on it.
  if (reason !== undefined && "code" in reason && typeof reason.code === "string") {
    details.code = reason.code;
  }
  return new ClosedError(`cannot connect to ${url}: ${why}`, {
    retryable: true,
    cause: reason,
    details,
  });
}

/**
 * Opens a connection to a Stratus listener and completes the handshake.
 *
 * Rejects with `UNAUTHORIZED` if the listener refuses the token, `TIMEOUT` past `timeoutMs`, and
 * `CLOSED` (retryable) if the TCP connection fails or is dropped during the handshake.
 *
 * @example
 * ```ts
 * const conn = await connect("stratus://127.0.0.1:7000", {
 *   token: process.env.STRATUS_TOKEN ?? "",
 *   role: "client",
 *   id: "cli-1",
 *   handlers: { notify: (m, a) => console.log(m, a) },
 * });
 * console.log(conn.remoteId, conn.info);
 * ```
 */
export function connect(
  target: string | StratusAddress,
  options: ConnectOptions,
): Promise<Connection> {
  let addr: StratusAddress;
  try {
    addr = typeof target === "string" ? parseStratusUrl(target) : checkAddress(target);
    checkOptions(options);
  } catch (e) {
    return Promise.reject(ensureError(e));
  }
  const url = formatStratusUrl(addr);
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const socket =
    addr.tls === true
      ? tlsConnect({
          host: addr.host,
          port: addr.port,
          // SNI takes names only; an IP address is checked against the certificate's IP SANs.
          ...(isIP(addr.host) === 0 ? { servername: addr.host } : {}),
          ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
          rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
        })
      : netConnect({ host: addr.host, port: addr.port });
  return new Promise<Connection>((resolve, reject) => {
    const conn = new Connection(socket, {
      maxFrameBytes: options.maxFrameBytes,
      maxPendingRequests: options.maxPendingRequests,
      clock: options.clock,
      requestTimeoutMs: options.requestTimeoutMs,
      closeTimeoutMs: options.closeTimeoutMs,
      maxWriteBufferBytes: options.maxWriteBufferBytes,
      maxWriteBufferHardBytes: options.maxWriteBufferHardBytes,
      maxSendWaitMs: options.maxSendWaitMs,
      maxPendingBytes: options.maxPendingBytes,
      gate: connectorGate(),
      handshakeTimeoutMs: timeoutMs,
      // We chose this listener, so its welcome (which may carry a large `info`) gets the full limit.
      handshakeMaxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      handlers: options.handlers,
      onOpen: resolve,
    });
    // Written before the TCP connect completes; the socket queues it until then.
    socket.write(encodeFrame(helloMessage(options.token, options.role, options.id)));
    // After a successful handshake this reject is a no-op; before it, it reports why it failed.
    void conn.closed.then((reason) => reject(connectError(url, reason, timeoutMs)));
  });
}

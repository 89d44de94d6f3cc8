import { createServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { AddressInfo, Server, Socket } from "node:net";
import { InvalidArgumentError, ensureError } from "../errors/index.js";
import { ConnectionGate, connectionCaps, descriptorLimit } from "./admission.js";
import { formatStratusUrl } from "./connect.js";
import type { StratusAddress } from "./connect.js";
import { Connection } from "./connection.js";
import type { ConnectionOptions, ConnectionSetup, Handlers } from "./options.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  HANDSHAKE_MAX_FRAME_BYTES,
  listenerGate,
} from "./protocol.js";

/** Options of {@link WireServer.listen}. */
export interface WireServerOptions extends ConnectionOptions {
  /** Interface to bind (default `127.0.0.1`; use `0.0.0.0` or `::` to accept remote peers). */
  host?: string;
  /** Port to bind (default 0: any free port, see {@link WireServer.address}). */
  port?: number;
  /** The cluster token every connecting peer must present. */
  token: string;
  /** This listener's id, sent in every welcome. */
  id: string;
  /** Sent in every welcome as `conn.info` on the connecting side (roles, version, limits…). */
  info?: unknown;
  /** Handlers of every accepted connection, or a factory called once per connection. */
  handlers: Handlers | ((conn: Connection) => Handlers);
  /** Called when a peer has completed the handshake, after its handlers are in place. */
  onConnection?: (conn: Connection) => void;
  /** Connections that have not completed the handshake by then are closed (default 5 s). */
  handshakeTimeoutMs?: number;
  /**
   * Most connections open at once, handshake or not; sockets beyond it are closed as soon as they
   * are accepted. Default: derived from the process's descriptor limit, with a reserve kept for
   * peers, Redis and files (see `connectionCaps`): 128 under `ulimit -n 256`, 768 under 1,024,
   * at most 10,000.
   */
  maxConnections?: number;
  /**
   * Most connections open at once from one remote address (IPv6: one /64), so one client cannot
   * lock the others out (default a quarter of `maxConnections`). Raise it when every client
   * arrives through one proxy.
   */
  maxConnectionsPerAddress?: number;
  /**
   * An established connection with no traffic either way and nothing in flight is closed after
   * between one and two of these periods (default 10 minutes; 0 never closes). Peers and the SDK
   * reconnect on next use.
   */
  idleTimeoutMs?: number;
  /** Serve TLS (`stratuss://`) with this PEM certificate chain and key. */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
}

/** Upper bound of the default of {@link WireServerOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Default of {@link WireServerOptions.idleTimeoutMs}: 10 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;

/**
 * A TCP listener speaking the Stratus wire protocol. Each accepted socket must complete the
 * handshake (right token, within the handshake timeout) before its frames reach the handlers.
 * A connection that misbehaves (bad frame, unknown message) is closed alone; the listener and
 * the other connections keep going.
 *
 * @example
 * ```ts
 * const server = await WireServer.listen({
 *   token: "secret",
 *   id: "sched-1",
 *   info: { roles: ["scheduler"] },
 *   handlers: {
 *     request(method, payload) {
 *       if (method === "echo") return payload;
 *       throw new InvalidArgumentError(`unknown method ${method}`);
 *     },
 *   },
 * });
 * console.log(server.url); // stratus://127.0.0.1:40123
 * await server.close();
 * ```
 */
export class WireServer {
  /** Where the listener is bound. */
  readonly address: StratusAddress;
  /** `stratus://host:port` of the listener. */
  readonly url: string;
  /** The established connections (handshake completed, not yet closed). */
  readonly connections: ReadonlySet<Connection>;

  private readonly server: Server;
  private readonly options: WireServerOptions;
  private readonly setup: ConnectionSetup;
  private readonly open = new Set<Connection>();
  /** Every connection, including those still in the handshake; closed by {@link close}. */
  private readonly all = new Set<Connection>();
  private closing: Promise<void> | undefined;
  private readonly gate: ConnectionGate;

  /** Sockets closed on arrival because a connection cap was reached. */
  get refusedConnections(): number {
    return this.gate.refused;
  }

  /** The connection caps in force (given, or derived from the descriptor limit). */
  get caps(): { max: number; perAddress: number } {
    return this.gate.caps;
  }

  private constructor(server: Server, options: WireServerOptions) {
    this.server = server;
    this.options = options;
    const info = server.address() as AddressInfo;
    this.address = { host: info.address, port: info.port };
    if (options.tls !== undefined) this.address.tls = true;
    this.url = formatStratusUrl(this.address);
    this.connections = this.open;
    this.setup = {
      maxFrameBytes: options.maxFrameBytes,
      maxPendingRequests: options.maxPendingRequests,
      clock: options.clock,
      requestTimeoutMs: options.requestTimeoutMs,
      closeTimeoutMs: options.closeTimeoutMs,
      maxWriteBufferBytes: options.maxWriteBufferBytes,
      maxWriteBufferHardBytes: options.maxWriteBufferHardBytes,
      maxSendWaitMs: options.maxSendWaitMs,
      maxPendingBytes: options.maxPendingBytes,
      gate: listenerGate(options.token, options.id, options.info),
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      handshakeMaxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      onOpen: (conn) => this.opened(conn),
    };
    const max =
      options.maxConnections ?? connectionCaps(descriptorLimit(), { http: false }).wire.max;
    this.gate = new ConnectionGate({
      max,
      perAddress: options.maxConnectionsPerAddress ?? Math.max(1, Math.ceil(max / 4)),
    });
    // Counted from the TCP accept, before TLS: a socket holds its descriptor from then on. First
    // among the listeners, so a refused socket reaches no one else.
    server.prependListener("connection", (socket: Socket) => {
      if (this.closing !== undefined) socket.destroy();
      else this.gate.admit(socket);
    });
    // Over TLS a socket becomes a connection once its TLS handshake is done.
    server.on(options.tls !== undefined ? "secureConnection" : "connection", (socket: Socket) =>
      this.accept(socket),
    );
    // A failed TLS handshake (a plain client, a bad certificate) ends that socket, nothing else.
    server.on("tlsClientError", (_e: Error, socket: Socket) => socket.destroy());
  }

  /**
   * Binds a listener and resolves once it accepts connections.
   *
   * @throws InvalidArgumentError for a missing token or id; rejects with the bind error
   * (e.g. `EADDRINUSE`) if the port cannot be bound.
   */
  static async listen(options: WireServerOptions): Promise<WireServer> {
    if (typeof options.token !== "string") {
      throw InvalidArgumentError.field("token", "must be a string");
    }
    if (typeof options.id !== "string" || options.id === "") {
      throw InvalidArgumentError.field("id", "must be a non-empty string");
    }
    const server =
      options.tls !== undefined
        ? // A TLS handshake that never completes is a silent socket too: same deadline.
          createTlsServer({
            ...options.tls,
            handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
          })
        : createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    // Accept errors (EMFILE…) are reported here; without a listener they would crash the process.
    server.on("error", (e: Error) =>
      process.emitWarning(`stratus wire: listener error: ${e.message}`),
    );
    return new WireServer(server, options);
  }

  /**
   * Stops accepting, closes every connection gracefully (each is destroyed if its peer does not
   * finish within `closeTimeoutMs`) and resolves when all are closed. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all([...this.all].map((c) => c.close()));
      await listening;
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    if (socket.destroyed) return;
    const conn = new Connection(socket, this.setup);
    this.all.add(conn);
    void conn.closed.then(() => {
      this.all.delete(conn);
      this.open.delete(conn);
    });
  }

  private opened(conn: Connection): void {
    const { handlers, onConnection } = this.options;
    try {
      conn.setHandlers(typeof handlers === "function" ? handlers(conn) : handlers);
    } catch (e) {
      // Without handlers the connection is useless; drop it rather than the listener.
      conn.destroy(ensureError(e));
      return;
    }
    this.open.add(conn);
    if (onConnection === undefined) return;
    try {
      onConnection(conn);
    } catch (e) {
      process.emitWarning(`stratus wire: onConnection threw: ${ensureError(e).message}`);
    }
  }
}

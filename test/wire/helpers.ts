/**
 * Shared fixtures of the transport tests: a listener with test handlers, client connections, and
 * raw sockets for speaking broken protocol at a listener.
 */
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { mulberry32 } from "../../src/ml/random.js";
import { FrameDecoder, WireServer, connect, encodeFrame } from "../../src/wire/index.js";
import type {
  Connection,
  ConnectOptions,
  Handlers,
  RawMessage,
  WireServerOptions,
} from "../../src/wire/index.js";

export const TOKEN = "test-token";

/** A promise with its resolve function, for turning callbacks into awaitable events. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Starts a listener on 127.0.0.1, any port, with the test token. */
export function listen(
  handlers: WireServerOptions["handlers"],
  extra: Partial<WireServerOptions> = {},
): Promise<WireServer> {
  return WireServer.listen({
    token: TOKEN,
    id: "server-1",
    info: { roles: ["test"] },
    handlers,
    ...extra,
  });
}

/** Connects a client with the test token. */
export function dial(
  server: WireServer,
  handlers?: Handlers,
  extra: Partial<ConnectOptions> = {},
): Promise<Connection> {
  return connect(server.url, { token: TOKEN, role: "client", id: "client-1", handlers, ...extra });
}

/** The hello frame a well-behaved client sends first. */
export function helloFrame(token = TOKEN): Buffer {
  return encodeFrame({ t: "hello", v: 1, token, role: "client", id: "raw" });
}

/** A bare TCP connection to the listener, plus everything it receives decoded as frames. */
export interface RawPeer {
  socket: Socket;
  /** Frames received so far. */
  frames: RawMessage[];
  /** Settles when the socket has closed (for any reason). */
  closed: Promise<void>;
}

export async function rawPeer(server: WireServer): Promise<RawPeer> {
  const socket = netConnect(server.address.port, server.address.host);
  const frames: RawMessage[] = [];
  const decoder = new FrameDecoder();
  socket.on("data", (chunk: Buffer) => {
    try {
      frames.push(...decoder.push(chunk));
    } catch {
      socket.destroy();
    }
  });
  // Writes after the listener dropped us fail with EPIPE/ECONNRESET; that is expected here.
  socket.on("error", () => undefined);
  const closed = once(socket, "close").then(() => undefined);
  await once(socket, "connect");
  return { socket, frames, closed };
}

/** A seeded PRNG (mulberry32), so a failing fuzz run can be replayed from its seed. */
export const prng = mulberry32;

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

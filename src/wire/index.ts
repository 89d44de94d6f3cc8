/**
 * The Stratus transport: framed TCP (4-byte big-endian length + one msgpack message per frame),
 * a token handshake, and symmetric request/response and notification traffic with deadlines,
 * typed errors and back-pressure. See `notes/runtime.md`, section "Transport".
 *
 * @example
 * ```ts
 * import { WireServer, connect } from "./wire/index.js";
 *
 * const server = await WireServer.listen({
 *   token: "secret",
 *   id: "sched-1",
 *   handlers: { request: (method, payload) => (method === "echo" ? payload : undefined) },
 * });
 * const conn = await connect(server.url, { token: "secret", role: "client", id: "cli-1" });
 * await conn.request("echo", new Uint8Array([1, 2, 3])); // Buffer <01 02 03>
 * await conn.close();
 * await server.close();
 * ```
 */
export { Connection } from "./connection.js";
export type {
  ConnectionOptions,
  ConnectionStats,
  Handlers,
  RequestOptions,
  WireClock,
} from "./options.js";
export { WireServer } from "./server.js";
export {
  ConnectionGate,
  FALLBACK_DESCRIPTOR_LIMIT,
  addressKey,
  connectionCaps,
  descriptorLimit,
} from "./admission.js";
export type { ListenerCaps } from "./admission.js";
export { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS } from "./server.js";
export type { WireServerOptions } from "./server.js";
export { connect, formatStratusUrl, parseStratusUrl } from "./connect.js";
export type { ConnectOptions, StratusAddress, TlsClientOptions } from "./connect.js";
export { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from "./frame.js";
export { ByteParts, SPLICE_MIN_BYTES, encodeFrameParts } from "./splice.js";
export type { Frame } from "./splice.js";
export type { OnDropped } from "./writer.js";
export type { RawMessage } from "./frame.js";
export { PEER_ROLES, PROTOCOL_VERSION } from "./protocol.js";
export type {
  HelloMessage,
  NotifyMessage,
  PeerIdentity,
  PeerRole,
  RequestMessage,
  ResponseMessage,
  WelcomeMessage,
} from "./protocol.js";

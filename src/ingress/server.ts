import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  fromWireError,
  InvalidArgumentError,
  StratusError,
  UnauthorizedError,
  ValueTooLargeError,
} from "../errors/index.js";
import { DEFAULT_FUTURE_WAIT_MS } from "../protocol/index.js";
import type { GatewayMethod, GatewayResponse } from "../protocol/index.js";
import { ConnectionGate, connectionCaps, descriptorLimit } from "../wire/index.js";
import type { ListenerCaps } from "../wire/index.js";
import { bearerCheck } from "./bearer.js";
import { errorAnswer } from "./errors.js";
import { argsFromJson, stringify, valueToJson } from "./json.js";
import { openApiDocument } from "./openapi.js";

/**
 * What ingress needs of a scheduler: the gateway's requests, without a connection. The payload
 * is checked there, against the method's request shape.
 */
export interface IngressGateway {
  request<M extends GatewayMethod>(method: M, payload: unknown): Promise<GatewayResponse<M>>;
}

/**
 * More routes served beside the API (the dashboard): offered every request first, before the
 * bearer token is checked, so it does its own authentication.
 */
export interface IngressRoutes {
  /** Answers the request and returns true, or returns false without touching it. */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

/** Options of {@link HttpIngress.listen}. */
export interface HttpIngressOptions {
  /** The scheduler's gateway. */
  gateway: IngressGateway;
  /** Cluster token, expected as `Authorization: Bearer <token>`. */
  token: string;
  /** Listen address. @default "127.0.0.1" */
  host?: string;
  /** Listen port; 0 picks a free one. @default 0 */
  port?: number;
  /** Largest request body; longer bodies are refused with 413 while being read. @default 64 MiB */
  maxBodyBytes?: number;
  /** Longest `GET /v1/futures/<id>?timeoutMs=` wait. @default 300000 (5 minutes) */
  maxFutureWaitMs?: number;
  /** Serve HTTPS with this PEM certificate and key (the cluster's); plain HTTP without. */
  tls?: { cert: Buffer; key: Buffer };
  /** Routes served beside the API, e.g. the dashboard. @default none */
  routes?: IngressRoutes;
  /**
   * Most connections open at once, and from one remote address (IPv6: one /64); sockets over
   * either are closed as soon as they are accepted. Default: derived from the process's
   * descriptor limit (`connectionCaps(descriptorLimit(), { http: true }).http`: 64 and 16 under
   * `ulimit -n 256`). Raise `perAddress` when every client arrives through one proxy.
   */
  connections?: ListenerCaps;
  /**
   * A connection that has not sent a complete request head this long after it opened (or after
   * its previous request) is answered 408 and closed, so silent sockets do not hold descriptors.
   * @default 10000
   */
  headersTimeoutMs?: number;
}

/** An unknown route: 404, with the code INVALID_ARGUMENT (no code names a missing route). */
class RouteNotFound extends StratusError {
  constructor(path: string) {
    super("INVALID_ARGUMENT", `no route ${path.slice(0, 256)}`);
  }
}

const DEFAULT_MAX_BODY = 64 * 1024 * 1024;
const DEFAULT_HEADERS_TIMEOUT = 10_000;

/**
 * The HTTP door of a scheduler, so that any language can call Stratus: JSON in, JSON out, the
 * cluster token as a bearer token. Routes are listed in `GET /v1/openapi.json`.
 *
 * @example
 * ```ts
 * const http = await HttpIngress.listen({ gateway, token: "secret", port: 8080 });
 * // curl -H 'Authorization: Bearer secret' -d '{"args":[1]}' localhost:8080/v1/call/inc
 * await http.close();
 * ```
 */
export class HttpIngress {
  private readonly authorized: (header: string | undefined) => boolean;
  private readonly maxBody: number;
  private readonly maxWait: number;
  private readonly gate: ConnectionGate;

  private constructor(
    private readonly o: HttpIngressOptions,
    private readonly server: Server,
  ) {
    this.authorized = bearerCheck(o.token);
    this.maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.maxWait = o.maxFutureWaitMs ?? 300_000;
    this.gate = new ConnectionGate(
      o.connections ?? connectionCaps(descriptorLimit(), { http: true }).http,
    );
    // First among the listeners, from the TCP accept (before TLS): a refused socket reaches no
    // one else, and holds its descriptor no longer.
    server.prependListener("connection", (socket: Socket) => this.gate.admit(socket));
  }

  /** Sockets closed on arrival because a connection cap was reached. */
  get refusedConnections(): number {
    return this.gate.refused;
  }

  /** The connection caps in force (given, or derived from the descriptor limit). */
  get caps(): ListenerCaps {
    return this.gate.caps;
  }

  /** Starts listening; resolves once the port is bound. */
  static async listen(o: HttpIngressOptions): Promise<HttpIngress> {
    if (typeof o.token !== "string" || o.token.length === 0) {
      throw new InvalidArgumentError("the HTTP ingress needs the cluster token");
    }
    const headersTimeout = o.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT;
    const http = {
      headersTimeout,
      // How often the timeouts above are checked: Node's default (30 s) would let a silent
      // socket live up to 40 s instead of 10.
      connectionsCheckingInterval: Math.min(1000, headersTimeout),
    };
    const server =
      o.tls === undefined
        ? createServer(http)
        : createTlsServer({ ...o.tls, ...http, handshakeTimeout: headersTimeout });
    const ingress = new HttpIngress(o, server);
    server.on("request", (req, res) => void ingress.serve(req, res));
    // Answer `Expect: 100-continue` ourselves: an oversized or unauthorised body is refused
    // before the client sends it.
    server.on("checkContinue", (req, res) => void ingress.serve(req, res));
    // A malformed request line or header never reaches "request"; answer it and move on.
    server.on("clientError", (_e, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return ingress;
  }

  /** The bound port. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://host:port`, or `https://` with TLS. */
  get url(): string {
    const a = this.server.address() as AddressInfo;
    const scheme = this.o.tls === undefined ? "http" : "https";
    return `${scheme}://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://ingress");
      if (req.method === "GET" && url.pathname === "/v1/openapi.json") {
        return send(res, 200, openApiDocument());
      }
      if (this.o.routes !== undefined && (await this.o.routes.serve(req, res, url))) return;
      if (!this.authorized(req.headers.authorization)) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="stratus"');
        throw new UnauthorizedError("missing or wrong bearer token");
      }
      const body = await this.route(req, res, url);
      send(res, 200, body);
    } catch (e) {
      const { status, body } = errorAnswer(e);
      try {
        send(res, e instanceof RouteNotFound ? 404 : status, body);
      } catch {
        // The client is gone or the socket broke mid-answer: nothing left to tell it.
        res.destroy();
      }
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<unknown> {
    const parts = url.pathname.split("/").filter((s) => s.length > 0);
    const [v, kind, rawName, extra] = parts;
    if (v !== "v1" || rawName === undefined || extra !== undefined) {
      throw new RouteNotFound(url.pathname);
    }
    const name = pathName(rawName);
    const options = runOptions(req, url);
    if (req.method === "POST" && kind === "call") {
      const b = await this.jsonBody(req, res, ["args"]);
      const args = argsFromJson(b.args, "args");
      return this.run(await this.o.gateway.request("call", { fn: name, args, options }));
    }
    if (req.method === "POST" && kind === "dag") {
      const b = await this.jsonBody(req, res, ["inputs"]);
      const raw = b.inputs ?? {};
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new InvalidArgumentError("inputs must be an object of function name to arguments");
      }
      // The gateway fills its inputs by assignment, where "__proto__" would set a prototype and
      // the input would vanish without an error: refused here, loudly, instead.
      if (Object.hasOwn(raw, "__proto__")) {
        throw new InvalidArgumentError("inputs for a function named __proto__ are not accepted");
      }
      const inputs = Object.fromEntries(
        Object.entries(raw).map(([f, a]) => [f, argsFromJson(a, `inputs.${f}`)]),
      );
      return this.run(await this.o.gateway.request("dag.call", { dag: name, inputs, options }));
    }
    if (req.method === "GET" && kind === "futures") {
      const t = url.searchParams.get("timeoutMs");
      const timeoutMs = t === null ? Math.min(DEFAULT_FUTURE_WAIT_MS, this.maxWait) : Number(t);
      if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
        throw InvalidArgumentError.field("timeoutMs", "must be a non-negative number");
      }
      const outcome = await this.o.gateway.request("future.get", {
        id: name,
        timeoutMs: Math.min(timeoutMs, this.maxWait),
      });
      if (!outcome.ok) {
        throw outcome.e === undefined
          ? new StratusError("INTERNAL", "future failed")
          : fromWireError(outcome.e);
      }
      return { result: valueToJson(outcome.v) };
    }
    if (kind === "kv" && req.method === "GET") {
      const v = await this.o.gateway.request("kv.get", { key: name });
      return { value: valueToJson(v) };
    }
    if (kind === "kv" && req.method === "PUT") {
      const b = await this.jsonBody(req, res, ["value"]);
      const [value] = argsFromJson([b.value], "value");
      await this.o.gateway.request("kv.put", { key: name, value });
      return { ok: true };
    }
    throw new RouteNotFound(url.pathname);
  }

  /** A call's answer: the future's id, or the result decoded to JSON. */
  private run(out: GatewayResponse<"call">): unknown {
    if (out instanceof Uint8Array) return { result: valueToJson(out) };
    return { future: out.future };
  }

  /**
   * Reads a JSON object body with only `allowed` keys. A declared length past the limit is
   * refused before any byte is read (and before `100 Continue`); a streamed body past it is
   * discarded to its end, so the client still reads the 413, and never kept.
   */
  private async jsonBody(
    req: IncomingMessage,
    res: ServerResponse,
    allowed: string[],
  ): Promise<Record<string, unknown>> {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > this.maxBody) throw tooLarge(this.maxBody);
    if (/100-continue/i.test(req.headers.expect ?? "")) res.writeContinue();
    const chunks: Buffer[] = [];
    let size = 0;
    await new Promise<void>((resolve, reject) => {
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= this.maxBody) chunks.push(c);
        else chunks.length = 0;
      });
      req.on("end", resolve);
      req.on("error", reject);
    });
    if (size > this.maxBody) throw tooLarge(this.maxBody);
    if (size === 0) return {};
    let b: unknown;
    try {
      b = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      throw new InvalidArgumentError(`body is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof b !== "object" || b === null || Array.isArray(b)) {
      throw new InvalidArgumentError("body must be a JSON object");
    }
    const unknown = Object.keys(b).filter((k) => !allowed.includes(k));
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        `unexpected body keys ${unknown.slice(0, 8).join(", ")}; expected ${allowed.join(", ")}`,
      );
    }
    return b as Record<string, unknown>;
  }
}

function pathName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgumentError(`bad percent-encoding in ${raw.slice(0, 256)}`);
  }
}

function tooLarge(max: number): ValueTooLargeError {
  return new ValueTooLargeError(`request body is larger than ${max} bytes`);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * A run's options from the request: `?future=1`, the level (`Stratus-Consistency` header or
 * `?consistency=`), and the request id of an exactly-once run (`Idempotency-Key` header, which
 * makes the run `read-atomic` unless another level is named: a repeated request with the same
 * key then returns the result the first one committed).
 */
function runOptions(req: IncomingMessage, url: URL): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const future = url.searchParams.get("future");
  if (future === "1" || future === "true") out.future = true;
  const level = headerValue(req, "stratus-consistency") ?? url.searchParams.get("consistency");
  if (level !== null && level !== undefined) out.consistency = level;
  // W3C trace context: the run's spans join the caller's trace (the gateway checks its form).
  const traceparent = headerValue(req, "traceparent");
  if (traceparent !== undefined) out.traceparent = traceparent.trim();
  const key = headerValue(req, "idempotency-key");
  if (key !== undefined) {
    if (key.length === 0 || key.length > 128) {
      throw InvalidArgumentError.field("Idempotency-Key", "must be 1 to 128 characters");
    }
    out.requestId = key;
    out.consistency ??= "read-atomic";
    if (out.consistency !== "read-atomic") {
      throw InvalidArgumentError.field(
        "Idempotency-Key",
        `makes a run exactly-once, which needs consistency read-atomic, not ${String(out.consistency)}`,
      );
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

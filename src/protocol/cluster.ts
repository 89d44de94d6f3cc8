/**
 * Requests any Stratus process answers besides its gateway's (src/cluster routes them): what a
 * joining node or the CLI asks of a cluster, and what the monitor asks of a node.
 */
import type { ClusterStats } from "../stats/index.js";
import { GATEWAY_METHODS } from "./gateway.js";
import type { GatewayApi } from "./gateway.js";
import type { FunctionLogLine, LogQuery } from "./logs.js";

/** What `cluster.info` answers: where the store is, never its password. */
export interface ClusterInfo {
  /** The answering process's id. */
  id: string;
  /** The store's address without its password; null for an in-memory store. */
  store: string | null;
  /** The store needs a password, which a joining node brings itself. */
  storeNeedsPassword: boolean;
}

/** Every process-level request: its request and what it answers. */
export interface ProcessApi {
  "cluster.info": { request: Record<string, never>; response: ClusterInfo };
  "cluster.stats": { request: Record<string, never>; response: ClusterStats };
  /** A peer request (the monitor's): this many executors on the node. */
  "node.resize": { request: { executors: number }; response: { executors: number } };
  /** A peer request (a gateway's, for `logs`): the lines this node keeps that match. */
  "node.logs": { request: LogQuery; response: { lines: FunctionLogLine[] } };
}

/** Every request a process answers: its gateway's and its own. */
export type Api = GatewayApi & ProcessApi;
/** A request method's name. */
export type ApiMethod = keyof Api;
/** The request of method `M`. */
export type ApiRequest<M extends ApiMethod> = Api[M]["request"];
/** What method `M` answers. */
export type ApiResponse<M extends ApiMethod> = Api[M]["response"];

/** Requests a client may make; everything else needs a peer's role. */
export const CLIENT_REQUESTS: ReadonlySet<string> = new Set<ApiMethod>([
  ...GATEWAY_METHODS,
  "cluster.info",
  "cluster.stats",
]);

/** What sends requests and waits for answers: a wire `Connection`. */
export interface Requester {
  request<T>(method: string, payload: unknown, options?: { timeoutMs?: number }): Promise<T>;
}

/**
 * Sends request `method` over `conn`, typed by {@link Api}: the payload must be the method's
 * request, and the answer is its response.
 *
 * @example
 * ```ts
 * const info = await request(conn, "cluster.info", {}); // ClusterInfo
 * ```
 */
export function request<M extends ApiMethod>(
  conn: Requester,
  method: M,
  payload: ApiRequest<M>,
  options?: { timeoutMs?: number },
): Promise<ApiResponse<M>> {
  return conn.request<ApiResponse<M>>(method, payload, options);
}

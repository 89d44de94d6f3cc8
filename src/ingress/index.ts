/**
 * HTTP ingress: a scheduler's JSON-over-HTTP door, so that any language can call functions and
 * DAGs, read futures and keys, with the cluster token as a bearer token.
 *
 * @example
 * ```ts
 * import { HttpIngress } from "./ingress/index.js";
 * const http = await HttpIngress.listen({ gateway, token, port: 8080 });
 * ```
 */
export { bearerCheck } from "./bearer.js";
export { HTTP_STATUS, errorAnswer } from "./errors.js";
export type { ErrorBody } from "./errors.js";
export { HttpIngress } from "./server.js";
export type { HttpIngressOptions, IngressGateway, IngressRoutes } from "./server.js";
export { openApiDocument } from "./openapi.js";

/**
 * The node: a cache shared by executor worker threads, running the functions triggers name.
 *
 * @example
 * ```ts
 * import { Node } from "./node/index.js";
 * const node = await Node.start({ id: "n1", addr, store, clock, registry, membership, peers, dispatcher });
 * ```
 */
export { NODE_DEFAULTS, isNodeId } from "./defaults.js";
export { POOL_DEFAULTS, validateFunctionSource } from "./executor/index.js";
export type { InvocationObserver } from "./executor/index.js";
export { Mailboxes } from "./mailbox.js";
export { FUNCTION_LOGS_DEFAULTS, FunctionLogs } from "./logs.js";
export type { FunctionLogsOptions } from "./logs.js";
export { Node } from "./node.js";
export type { FunctionTxnHost, NodeOptions } from "./node.js";
export type { CancelCounts } from "./cancels.js";

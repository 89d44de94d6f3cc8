/**
 * The node: a cache shared by executor worker threads, running the functions triggers name.
 *
 * @example
 * ```ts
 * import { Node } from "./node/index.js";
 * const node = await Node.start({ id: "n1", addr, store, clock, registry, membership, peers, dispatcher });
 * ```
 */
export { validateFunctionSource } from "./executor/index.js";
export type { InvocationObserver } from "./executor/index.js";
/** @deprecated The ctx's types live in src/function; import them from there. */
export type { FunctionContext } from "../function/index.js";
export { Mailboxes } from "./mailbox.js";
export { Node } from "./node.js";
export type { FunctionTxnHost, NodeOptions } from "./node.js";
export type { CancelCounts } from "./cancels.js";

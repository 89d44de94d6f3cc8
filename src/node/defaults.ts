/** The node's defaults and the form of its id, read by the process that starts one. */

/** Defaults of {@link NodeOptions} (each field is documented there). */
export const NODE_DEFAULTS = {
  /** Executor worker threads. */
  executors: 4,
  /** Triggers queued beyond this are refused with `OVERLOADED`. */
  maxQueued: 100_000,
  /** Bytes of arguments of the calls queued or running beyond which calls are refused. */
  maxQueuedBytes: 512 * 1024 * 1024,
} as const;

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Whether `id` can name a node: 1 to 64 letters, digits, `-` and `_` (it prefixes invocation
 * ids, which nodes split again).
 *
 * @example
 * ```ts
 * isNodeId("n-1f2e"); // true
 * isNodeId("a.b"); // false
 * ```
 */
export function isNodeId(id: unknown): id is string {
  return typeof id === "string" && NODE_ID.test(id);
}

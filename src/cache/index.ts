/**
 * The cache next to every node's executors: holds what storage holds or nothing, fed by the
 * store's change stream. Its own folder because both the node and the session policies of the
 * consistency levels (which pin and compare cached versions) use it.
 *
 * @example
 * ```ts
 * import { NodeCache } from "../cache/index.js";
 * const cache = await NodeCache.open(store, { prefix: "u/" });
 * ```
 */
export { NodeCache } from "./node-cache.js";
export type { NodeCacheOptions } from "./node-cache.js";

/**
 * The application's state API over user keys (`get`, `put`, `merge`, `delete`, and the lattice
 * itself), shared by the gateway (clients) and the node (functions' `ctx`).
 *
 * @example
 * ```ts
 * import { UserState, userKey } from "./state/index.js";
 * const state = new UserState(store, clock);
 * await state.put("k", encodeValue(5));
 * userKey("k"); // "u/k"
 * ```
 */
export { USER_PREFIX, UserState, userKey } from "./user-state.js";
export type { LatticeSource, ReadValue } from "./user-state.js";

/**
 * Consistency levels as session policies: what a run's reads return and where its writes go,
 * decided per run by its level (docs/architecture.md, "Consistency levels"). The node's host
 * operations call a {@link RunSession}; the levels live here (and `read-atomic` in `src/txn`).
 *
 * @example
 * ```ts
 * import { SessionPolicies } from "../consistency/index.js";
 * const policies = new SessionPolicies(env, factories);
 * const session = policies.for(trigger.meta.consistency).open(trigger.meta);
 * ```
 */
export { CausalPolicy, causal } from "./causal.js";
export { LwwPolicy } from "./lww.js";
export { PinTable } from "./pins.js";
export type { PinTableOptions } from "./pins.js";
export { RepeatableReadPolicy, repeatableRead } from "./repeatable-read.js";
export { TransactionalCausalPolicy, transactionalCausal } from "./transactional-causal.js";
export { MAX_CLOCK_ENTRIES, MAX_SESSION_KEYS, versionTag } from "./versions.js";
export { SessionPolicies } from "./policies.js";
export type { RunSession, SessionEnv, SessionPolicy, SessionPolicyFactory } from "./session.js";

/**
 * Storage: the lattice key-value layer every other subsystem reads and writes.
 *
 * @example
 * ```ts
 * import { openStore } from "./storage/index.js";
 * const store = await openStore("memory:");
 * ```
 */
export type { FsyncPolicy, RecoveryReport } from "./memory/append-log.js";
export { MemoryStore } from "./memory/memory-store.js";
export type { MemoryStoreOptions } from "./memory/memory-store.js";
export { openStore, parseStoreAddress } from "./open-store.js";
export { redactStoreAddress } from "./redact.js";
export type { StoreOptions } from "./open-store.js";
export { RedisStore } from "./redis/redis-store.js";
export type { RedisStoreOptions } from "./redis/redis-store.js";
export { notificationFlags } from "./redis/notifications.js";
export { checkKey, checkValue, resolveStoreLimits } from "./store.js";
export type {
  ChangeEvent,
  ChangeListener,
  ConnectionListener,
  ResolvedStoreLimits,
  ScanStep,
  Store,
  StoreLimits,
  Subscription,
  ThenWrite,
} from "./store.js";

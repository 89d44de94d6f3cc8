/**
 * Stratus: stateful serverless infrastructure for TypeScript.
 *
 * @example
 * ```ts
 * import { openStore, HybridClock, LwwLattice } from "stratus";
 * const store = await openStore("memory:");
 * await store.put("k", LwwLattice.of(1, new HybridClock().now()));
 * ```
 */
export * from "./errors/index.js";
export * from "./lattice/index.js";
export * from "./storage/index.js";
export * from "./client/index.js";
export * from "./dataflow/index.js";
// The server (`StratusProcess`, an embedded cluster) is the `stratus/local` entry's: importing the
// client loads none of it, and `Stratus.local()` loads it when called.

import type { NodeCache } from "../cache/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Consistency, RunMeta, SessionSlots } from "../protocol/index.js";
import type { Membership, Peers } from "../scheduler/index.js";
import type { ReadValue, UserState } from "../state/index.js";
import type { Store } from "../storage/index.js";

/**
 * One run's reads and writes at one node, for one trigger (the functions of a fused chain share
 * it). The node's host operations (`ctx.get`, `ctx.put`, …) go through it, so a consistency level
 * decides what a read returns and where a write goes without the node knowing the level.
 */
export interface RunSession {
  /** The plain value of a user key, encoded, with its version when it has one. */
  get(key: unknown): Promise<ReadValue | undefined>;
  /** The lattice a user key holds, encoded. */
  getLattice(key: unknown): Promise<Uint8Array | undefined>;
  /** Writes an encoded plain value (last writer wins, or the level's own lattice). */
  put(key: unknown, value: Uint8Array): Promise<void>;
  /** Merges an encoded lattice into a user key. */
  merge(key: unknown, lattice: Uint8Array): Promise<void>;
  delete(key: unknown): Promise<void>;
  /**
   * True when `put`, `merge` and `delete` only buffer the write until {@link finish} (read-atomic),
   * applied before they return and failing only on bad input. The executor then does not wait
   * for them: the function goes on at once, and a write the session refuses fails the invocation
   * instead of its `await ctx.put`. @default false
   */
  readonly buffersWrites?: boolean;
  /**
   * The metadata the run carries on from here, once this node's part is done: downstream
   * triggers and nested calls get it (a read set, dependencies, a transaction's writes).
   */
  forward(): RunMeta;
  /**
   * Called at the sink before the result goes to the caller, with whether the run succeeded and
   * its encoded result. Throwing fails the run with that error (a commit that could not
   * complete). Resolving with bytes replaces the result (a retry that found the result an
   * earlier attempt of the same request committed).
   */
  finish(ok: boolean, result?: Uint8Array): Promise<Uint8Array | void>;
  /**
   * The id `ctx.runId()` returns when it is not the run's (read-atomic: the transaction's, the
   * same on every attempt of the request). @default `forward().run`
   */
  runId?(): string;
  /**
   * The session a nested `ctx.call` carries, when it differs from `forward().session`
   * (read-atomic: the call joins the caller's transaction).
   */
  nested?(): SessionSlots;
  /**
   * Takes back the result of a nested call started with {@link nested} and returns the result
   * the caller sees (read-atomic: the call's writes come back with it and join the caller's).
   */
  returned?(v: Uint8Array): Uint8Array;
}

/**
 * A consistency level as the nodes implement it: opens a {@link RunSession} per trigger and
 * merges the metadata of a function's several upstream results.
 *
 * @example
 * ```ts
 * const policy = new LwwPolicy(env);
 * const s = policy.open(trigger.meta);
 * await s.put("k", encodeValue(1));
 * ```
 */
export interface SessionPolicy {
  readonly level: Consistency;
  open(meta: RunMeta): RunSession;
  /** Fan-in: one meta from the metas of several upstream results of one function (same run). */
  join(metas: RunMeta[]): RunMeta;
  /**
   * Serves a message from the same policy on another node (src/protocol,
   * `PIN_METHODS`), with its answer or a promise of it; undefined when it is not this policy's.
   */
  handle?(method: string, payload: unknown): unknown;
  /** Releases what the policy keeps (pinned versions, subscriptions) when the node stops. */
  close?(): Promise<void>;
}

/** What a node gives its session policies. */
export interface SessionEnv {
  nodeId: string;
  /** The state API over this node's cache (lww reads and writes, clock observed). */
  state: UserState;
  cache: NodeCache;
  store: Store;
  clock: HybridClock;
  peers: Peers;
  membership: Membership;
}

/** Builds a policy for one node; the composition root (`src/cluster`) lists the levels offered. */
export type SessionPolicyFactory = (env: SessionEnv) => SessionPolicy;

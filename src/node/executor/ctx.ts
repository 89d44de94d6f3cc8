/**
 * The ctx user functions receive, on the worker side. Everything but `id()` and `state` is a host
 * call: a message to the main thread, answered by the node's host handler. User values are encoded
 * here, in the worker, so the main thread only ever moves bytes (see runtime notes: user values are
 * decoded only by the executor that runs the function).
 */
import { decodeValue, encodeValueOwned, typedDataOffset } from "../../lattice/values.js";
import { decodeLattice, encodeLattice } from "../../lattice/codec.js";
import { lattices, plainValue } from "../../lattice/constructors.js";
import type { Lattice } from "../../lattice/lattice.js";
import {
  CancelledError,
  FunctionTimeoutError,
  InvalidArgumentError,
  InvalidKeyError,
  TimeoutError,
  fromWireError,
} from "../../errors/index.js";
import type { MessagePort } from "node:worker_threads";
import { Inboxes } from "./inboxes.js";
import { ValueCache } from "./value-cache.js";
import type { TypedArray } from "./value-cache.js";
import type { HostCallMsg, HostReplyMsg } from "./types.js";
import type { HostArgs, HostOp, HostResult } from "./host-calls.js";
import { REF_MARKER } from "../../function/index.js";
import type { GatewayRequest, TxnMethod, TxnRpc } from "../../protocol/index.js";
import type {
  FunctionContext,
  GetOptions,
  NestedCallOptions,
  Transactions,
} from "../../function/index.js";

/**
 * Builds `ctx.txn` over an invocation's `txn` host calls. Given by the worker's entry (the
 * transaction client is src/txn's), so that the ctx itself names no transaction code.
 */
export type TransactionsFactory = (rpc: TxnRpc) => Transactions;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Numbers host calls and matches the main thread's answers to them. */
export class HostLink {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Messages pushed to this worker's invocations. */
  readonly inboxes = new Inboxes();
  readonly values: ValueCache;
  /** Invocations queued or running in this worker: they take direct messages. */
  readonly known = new Set<string>();
  /** Ports to the other workers of the pool, by worker number. */
  readonly ports = new Map<number, MessagePort>();
  /** Where recipients run (worker number), learnt from the main thread's route hints. */
  private readonly routes = new Map<string, number>();

  /** Remembers a route; bounded, oldest forgotten first (a stale route only costs a detour). */
  route(inv: string, slot: number): void {
    this.routes.set(inv, slot);
    if (this.routes.size > 4096) this.routes.delete(this.routes.keys().next().value as string);
  }

  /** Forgets a worker that is gone. */
  unpeer(slot: number): void {
    this.ports.get(slot)?.close();
    this.ports.delete(slot);
    for (const [inv, s] of this.routes) if (s === slot) this.routes.delete(inv);
  }

  /**
   * Sends a message from `from` to invocation `to`, numbered `seq` for that pair: into this
   * worker's own inbox, straight to the worker running it, or through the node when the route
   * is unknown (or the recipient is elsewhere).
   */
  sendMail(from: string, to: string, m: Uint8Array, seq: number): void {
    if (this.known.has(to)) return this.inboxes.deliver(to, m, from, seq);
    const slot = this.routes.get(to);
    const port = slot === undefined ? undefined : this.ports.get(slot);
    // `m` is encoded into a buffer of its own (encodeValueOwned): it moves rather than copies.
    const moved = [m.buffer as ArrayBuffer];
    if (port !== undefined) port.postMessage({ t: "mail", inv: to, m, f: from, s: seq }, moved);
    else this.post({ t: "host", inv: from, seq: 0, op: "send", a: [to, m, seq] }, moved);
  }

  constructor(
    private readonly post: (m: HostCallMsg, transfer?: readonly ArrayBuffer[]) => void,
    valueCacheBytes: number,
    /** What `ctx.txn` is built with. */
    readonly transactions: TransactionsFactory,
  ) {
    this.values = new ValueCache(valueCacheBytes);
  }

  /**
   * Sends one host call for invocation `inv`; settles with the host's answer. The buffers in
   * `transfer` move to the main thread: each must belong to `a` alone.
   */
  call<Op extends HostOp>(
    inv: string,
    op: Op,
    a: HostArgs<Op>,
    transfer?: readonly ArrayBuffer[],
  ): Promise<HostResult<Op>> {
    const seq = ++this.seq;
    const m: HostCallMsg<Op> = { t: "host", inv, seq, op, a };
    return new Promise<HostResult<Op>>((resolve, reject) => {
      // The pool shapes every answer by its op (calls.ts, answerHostCall): this is `op`'s result.
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.post(m, transfer);
    });
  }

  /**
   * Sends one host call for invocation `inv` that nobody waits for: a write of a run that buffers
   * its writes. Posted in order with the invocation's other calls and its result, so the host
   * takes it before either; one it refuses fails the invocation (the pool's `Job.defer`).
   */
  tell<Op extends "put" | "merge" | "delete">(
    inv: string,
    op: Op,
    a: HostArgs<Op>,
    transfer?: readonly ArrayBuffer[],
  ): void {
    this.post({ t: "host", inv, seq: 0, op, a, d: 1 }, transfer);
  }

  /** Delivers an answer from the main thread. */
  settle(m: HostReplyMsg): void {
    const p = this.pending.get(m.seq);
    if (p === undefined) return;
    this.pending.delete(m.seq);
    if (m.ok) p.resolve(m.v);
    else p.reject(fromWireError(m.e));
  }
}

/**
 * A write that is told rather than awaited is checked here as the host would check its key, so
 * that the commonest mistake still fails the `await ctx.put` that made it.
 */
function checkKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new InvalidKeyError("key must be a non-empty string");
  }
  return key;
}

function isTyped(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function decodeOptional<T>(v: unknown): T | undefined {
  return v instanceof Uint8Array ? decodeValue<T>(v) : undefined;
}

/**
 * Whether one invocation was told to stop. Its AbortController is made only when the function
 * asks for `ctx.signal` (or when it is aborted): most functions never do, and a call's cost is
 * counted in microseconds.
 */
export class Cancellation {
  private controller: AbortController | undefined;
  /** Set once aborted: what `signal.reason` is, and what its `recv` rejects with. */
  reason: Error | undefined;

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  /** Aborts the signal (once); `code` says why. */
  abort(code: "CANCELLED" | "FUNCTION_TIMEOUT" | "TIMEOUT", why: string): void {
    if (this.reason !== undefined) return;
    this.reason =
      code === "CANCELLED"
        ? new CancelledError(why)
        : code === "TIMEOUT"
          ? new TimeoutError(why)
          : new FunctionTimeoutError(why);
    (this.controller ??= new AbortController()).abort(this.reason);
  }
}

/**
 * One invocation's ctx. A class, so a ctx costs one small object per call and its methods live on
 * the prototype; they therefore need their receiver: call `ctx.get(k)`, not a detached `get(k)`.
 */
export class Ctx implements FunctionContext {
  /** Sequence numbers of this invocation's messages, per recipient. */
  private seqs: Map<string, number> | undefined;
  /** Constructors of lattice values to `merge` (functions cannot import them). */
  readonly lattices = lattices;

  constructor(
    private readonly link: HostLink,
    private readonly inv: string,
    readonly state: unknown,
    private readonly cancel: Cancellation,
    /** Its run buffers writes until it ends: puts, merges and deletes are told, not awaited. */
    private readonly buffered = false,
  ) {}

  get signal(): AbortSignal {
    return this.cancel.signal;
  }

  id(): string {
    return this.inv;
  }

  private txns: Transactions | undefined;

  /** Transactions over host calls: the node serves the same `txn.*` methods as a gateway. */
  get txn(): Transactions {
    return (this.txns ??= this.link.transactions(
      // The node answers method M with M's response (FunctionTxnHost.handle).
      <M extends TxnMethod>(method: M, payload: GatewayRequest<M>) =>
        this.link.call(this.inv, "txn", [method, payload]),
    ));
  }

  async runId(): Promise<string> {
    return this.link.call(this.inv, "runId", []);
  }

  /**
   * Asks the node for the key, saying which version this worker already holds; the node sends
   * bytes only when that version is stale. Decoded afresh on every call (or, `shared`, the
   * cache's checked instance), so user code that mutates what it got never changes what the
   * next `get` returns.
   */
  /**
   * The value of a reference argument: as `get`, but a cached typed array is lent to this
   * invocation (see `ValueCache.lend`) instead of copied. The worker releases it when the
   * invocation ends.
   */
  getRef(key: string): Promise<unknown> {
    return this.get(key, undefined, true);
  }

  async get<T = unknown>(key: string, options?: GetOptions, lend = false): Promise<T | undefined> {
    const shared = options?.shared === true;
    const values = this.link.values;
    const known = values.version(key);
    const r = await this.link.call(this.inv, "get", known === undefined ? [key] : [key, known]);
    if (r === undefined || r === null) {
      values.drop(key);
      return undefined;
    }
    if (r instanceof Uint8Array) return decodeValue<T>(r);
    const { version, bytes } = r;
    if (bytes !== undefined) {
      // These bytes were moved here for this read alone: a typed array is decoded in place and
      // kept as it is, and the caller gets a copy, so later gets copy it instead of decoding. One
      // the cache does not keep (too big for it) is nobody else's: the caller gets it uncopied.
      if (typedDataOffset(bytes) >= 0) {
        const kept = decodeValue<T>(bytes, { inPlace: true });
        if (isTyped(kept)) {
          if (!values.set(key, version, { typed: kept })) return kept;
          return (this.handOut(key, version, shared, lend) ?? kept.slice()) as T;
        }
      }
      const v = decodeValue<T>(bytes);
      values.set(key, version, { bytes });
      return v;
    }
    const held = values.get(key, version);
    if ((shared || lend) && held?.typed !== undefined) {
      return (this.handOut(key, version, shared, lend) ?? held.typed.slice()) as T;
    }
    if (held !== undefined) {
      return held.typed !== undefined ? (held.typed.slice() as T) : decodeValue<T>(held.bytes);
    }
    // Evicted between asking and hearing back: ask again without a version.
    values.drop(key);
    return this.get<T>(key, options, lend);
  }

  /** The cache's shared or lent instance of a typed array, when the read asked for one. */
  private handOut(key: string, version: string, shared: boolean, lend: boolean): unknown {
    const values = this.link.values;
    if (shared) return values.shared(key, version);
    return lend ? values.lend(key, version, this.inv) : undefined;
  }

  async put(key: string, value: unknown): Promise<void> {
    this.link.values.drop(key);
    const bytes = encodeValueOwned(value);
    const moved = [bytes.buffer as ArrayBuffer];
    if (this.buffered) return this.link.tell(this.inv, "put", [checkKey(key), bytes], moved);
    await this.link.call(this.inv, "put", [key, bytes], moved);
  }

  async merge(key: string, value: Lattice): Promise<void> {
    if (typeof value !== "object" || value === null || typeof value.merge !== "function") {
      throw new InvalidArgumentError("merge takes a lattice: build one with ctx.lattices");
    }
    this.link.values.drop(key);
    // A copy that owns its buffer: a view would clone the codec's whole scratch buffer.
    const bytes = new Uint8Array(encodeLattice(value));
    if (this.buffered)
      return this.link.tell(this.inv, "merge", [checkKey(key), bytes], [bytes.buffer]);
    await this.link.call(this.inv, "merge", [key, bytes], [bytes.buffer]);
  }

  async getLattice(key: string): Promise<Lattice | undefined> {
    const r = await this.link.call(this.inv, "getLattice", [key]);
    return r === undefined ? undefined : decodeLattice(r);
  }

  async getVersions<T = unknown>(key: string): Promise<T[]> {
    const l = await this.getLattice(key);
    if (l === undefined) return [];
    if (l.kind === "mcausal" || l.kind === "causal") return l.values<T>();
    return [plainValue(l) as T];
  }

  async delete(key: string): Promise<void> {
    this.link.values.drop(key);
    if (this.buffered) return this.link.tell(this.inv, "delete", [checkKey(key)]);
    await this.link.call(this.inv, "delete", [key]);
  }

  /**
   * Hands the message to the node without waiting for an answer: like any network message its
   * delivery is best effort, and not waiting keeps a message to one thread hop each way.
   */
  async send(to: string, msg: unknown): Promise<void> {
    if (typeof to !== "string" || to.length === 0) {
      throw new InvalidArgumentError("send needs the recipient's id (from its ctx.id())");
    }
    this.seqs ??= new Map();
    const seq = (this.seqs.get(to) ?? 0) + 1;
    this.seqs.set(to, seq);
    this.link.sendMail(this.inv, to, encodeValueOwned(msg), seq);
  }

  /** Served from this worker's inbox: the node pushes messages here as they arrive. */
  async recv<T = unknown>(opts: { timeoutMs?: number } = {}): Promise<T | undefined> {
    const t = opts.timeoutMs;
    const timeoutMs = typeof t === "number" && t >= 0 ? t : 30_000;
    const before = this.cancel.reason;
    if (before !== undefined) throw before;
    // An abort wakes this waiter (the worker drops the inbox): it then rejects, not times out.
    const got = await this.link.inboxes.take(this.inv, timeoutMs);
    const after = this.cancel.reason;
    if (after !== undefined) throw after;
    return decodeOptional<T>(got);
  }

  /**
   * Calls a function. Keys referenced by `{ $stratusRef: key }` arguments, and those named by
   * `options.near`, go along, so placement sends the callee to the node caching them (the
   * dataflow locality pass relies on it).
   */
  async call<T = unknown>(name: string, args: unknown[], options?: NestedCallOptions): Promise<T> {
    const near = options?.near;
    const refs: string[] = Array.isArray(near)
      ? near.filter((k): k is string => typeof k === "string")
      : [];
    for (const a of args) {
      const key =
        typeof a === "object" && a !== null
          ? (a as Record<string, unknown>)[REF_MARKER]
          : undefined;
      if (typeof key === "string" && Object.keys(a as object).length === 1) refs.push(key);
    }
    const encoded = args.map((a) => encodeValueOwned(a));
    const moved = encoded.map((b) => b.buffer as ArrayBuffer);
    const out = await this.link.call(
      this.inv,
      "call",
      refs.length > 0 ? [name, encoded, refs] : [name, encoded],
      moved,
    );
    return decodeOptional<T>(out) as T;
  }
}

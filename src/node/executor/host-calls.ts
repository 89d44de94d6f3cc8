/**
 * The host-call contract: what user code asks of its node through the ctx, op by op, with the
 * arguments the worker sends and the result it gets back ({@link HostCalls}). Four places speak
 * it and all four take their types from here: the ctx (src/node/executor/ctx.ts) makes the calls,
 * the pool checks their arguments ({@link decodeHostArgs}) and shapes the replies
 * (calls.ts `answerHostCall`), and the node serves them (src/node/host.ts).
 *
 * On the thread boundary an op's arguments are a positional array, the cheapest form to post.
 * User values are encoded in the worker, so they travel as bytes, never as user objects.
 */
import { InvalidArgumentError, InvalidKeyError } from "../../errors/index.js";
import { isTxnMethod } from "../../protocol/index.js";
import type { GatewayResponse, TxnMethod } from "../../protocol/index.js";

/** What the host answers to `get`: the value's version, and its bytes unless the worker has them. */
export interface VersionedValue {
  version: string;
  bytes?: Uint8Array;
}

/** Every host op: the arguments the worker sends and what the host resolves to. */
export interface HostCalls {
  /**
   * `ctx.get(key)`. `knownVersion`: the version this worker holds. The host answers `undefined`
   * (absent), the bytes of a value without versions, or `{ version, bytes? }`, without bytes when
   * the worker's copy of `version` is current.
   */
  get: {
    args: [key: string, knownVersion?: string];
    result: Uint8Array | VersionedValue | undefined;
  };
  /** `ctx.getLattice(key)`, `ctx.getVersions(key)`: the encoded lattice, or `undefined`. */
  getLattice: { args: [key: string]; result: Uint8Array | undefined };
  /** `ctx.put(key, value)`: the encoded plain value. */
  put: { args: [key: string, value: Uint8Array]; result: undefined };
  /** `ctx.merge(key, lattice)`: the encoded lattice. */
  merge: { args: [key: string, lattice: Uint8Array]; result: undefined };
  /** `ctx.delete(key)`. */
  delete: { args: [key: string]; result: undefined };
  /** `ctx.runId()`: the run's id, or its transaction's in a `read-atomic` run. */
  runId: { args: []; result: string };
  /**
   * `ctx.send(to, msg)`, when the worker does not know where `to` runs. `seq` numbers the
   * sender's messages to `to`. Nobody waits for its answer.
   */
  send: { args: [to: string, msg: Uint8Array, seq?: number]; result: undefined };
  /**
   * `ctx.call(name, args, { near })`: the encoded arguments, and the keys the callee will read
   * (its references and `near`), for placement. Resolves to the encoded result.
   */
  call: { args: [name: string, args: Uint8Array[], refs?: string[]]; result: Uint8Array };
  /**
   * `ctx.txn`: one of the gateway's `txn.*` requests, served by the node. The payload is checked
   * against the method's request shape by whoever serves it.
   */
  txn: { args: [method: TxnMethod, payload: unknown]; result: GatewayResponse<TxnMethod> };
}

/** Operations user code asks of the node through its ctx. */
export type HostOp = keyof HostCalls;
/** The arguments of host op `Op`, as posted. */
export type HostArgs<Op extends HostOp> = HostCalls[Op]["args"];
/** What host op `Op` resolves to. */
export type HostResult<Op extends HostOp> = HostCalls[Op]["result"];

/** The invocation a host call comes from. */
export interface HostInvocation {
  id: string;
  run?: unknown;
  /** Function name. */
  fn: string;
  /**
   * When the invocation's result stops mattering (`Date.now()` milliseconds): the sooner of its
   * deadline and the end of its time limit. Nested calls must finish by then.
   */
  deadline: number;
  /**
   * Given with `call` ops: aborted when the invocation is cancelled or times out, so the node
   * cancels the nested runs it started for it (their own `ctx.signal`s abort in turn).
   */
  signal?: AbortSignal;
}

/** A call of host op `Op`: the op, its arguments, and the invocation it comes from. */
export type HostCallOf<Op extends HostOp> = [op: Op, args: HostArgs<Op>, inv: HostInvocation];

/** One host call, of any op. */
export type HostCall = { [Op in HostOp]: HostCallOf<Op> }[HostOp];

/**
 * The node's side of the ctx: performs one host call for user code. A thrown StratusError
 * reaches user code with its code.
 *
 * @example
 * ```ts
 * const host: HostHandler = async (op, args) => (op === "get" ? store.get(args[0]) : undefined);
 * ```
 */
export type HostHandler = (...call: HostCall) => Promise<HostResult<HostOp>>;

/** Serves host op `Op` for invocation `inv`. */
export type HostOpHandler<Op extends HostOp> = (
  args: HostArgs<Op>,
  inv: HostInvocation,
) => Promise<HostResult<Op>>;

/** One handler per host op: a node's host. */
export type HostHandlers = { [Op in HostOp]: HostOpHandler<Op> };

/**
 * The {@link HostHandler} that serves each op with its handler in `table`.
 *
 * @example
 * ```ts
 * const pool = new ExecutorPool({ size: 4, host: hostHandler(nodeHost) });
 * ```
 */
export function hostHandler(table: HostHandlers): HostHandler {
  return (op, args, inv) => serve(table, op, args, inv);
}

function serve<Op extends HostOp>(
  table: HostHandlers,
  op: Op,
  args: HostArgs<Op>,
  inv: HostInvocation,
): Promise<HostResult<Op>> {
  // Called on the table: a handler may be a method of it.
  return table[op](args, inv);
}

function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidArgumentError("expected encoded bytes");
  return v;
}

/** A user key: the levels check the rest (`INVALID_KEY` for an empty one, too). */
function key(v: unknown): string {
  if (typeof v !== "string") throw new InvalidKeyError("key must be a non-empty string");
  return v;
}

/**
 * Host calls as they arrive from a worker, which runs user code: their arguments checked and put
 * in their contract's types, op by op, before the host sees them.
 */
const DECODE: {
  [Op in HostOp]: (a: readonly unknown[], inv: HostInvocation) => HostCallOf<Op>;
} = {
  get: (a, inv) => ["get", typeof a[1] === "string" ? [key(a[0]), a[1]] : [key(a[0])], inv],
  getLattice: (a, inv) => ["getLattice", [key(a[0])], inv],
  // The value first: a put of something else than bytes says so, whatever its key.
  put: (a, inv) => {
    const value = bytes(a[1]);
    return ["put", [key(a[0]), value], inv];
  },
  merge: (a, inv) => {
    const lattice = bytes(a[1]);
    return ["merge", [key(a[0]), lattice], inv];
  },
  delete: (a, inv) => ["delete", [key(a[0])], inv],
  runId: (_a, inv) => ["runId", [], inv],
  send: (a, inv) => {
    const to = String(a[0]);
    const msg = bytes(a[1]);
    return ["send", typeof a[2] === "number" ? [to, msg, a[2]] : [to, msg], inv];
  },
  call: (a, inv) => {
    const name = String(a[0]);
    const list = Array.isArray(a[1]) ? a[1].map(bytes) : [];
    const refs = Array.isArray(a[2])
      ? a[2].filter((k): k is string => typeof k === "string")
      : undefined;
    return ["call", refs === undefined ? [name, list] : [name, list, refs], inv];
  },
  txn: (a, inv) => {
    const method = String(a[0]);
    if (!isTxnMethod(method)) {
      throw new InvalidArgumentError(`unknown transaction method ${method.slice(0, 64)}`);
    }
    return ["txn", [method, a[1]], inv];
  },
};

/**
 * Checks a host call posted by a worker and returns it typed by {@link HostCalls}.
 *
 * @throws InvalidArgumentError for an unknown op or arguments of the wrong types
 *   (`INVALID_KEY` for a key that is no string).
 */
export function decodeHostCall(op: string, a: readonly unknown[], inv: HostInvocation): HostCall {
  if (!isHostOp(op)) throw new InvalidArgumentError(`unknown host operation ${op.slice(0, 64)}`);
  return DECODE[op](a, inv);
}

/** True when `op` names a host op. */
export function isHostOp(op: string): op is HostOp {
  return Object.hasOwn(DECODE, op);
}

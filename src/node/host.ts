/**
 * The node's side of the ctx: every host call a running function makes (`ctx.get`, `ctx.send`,
 * `ctx.call`…), served op by op as src/node/executor's `HostCalls` types them. Reads and writes
 * go through the run's session, so its consistency level decides what they see.
 */
import { InvalidArgumentError, OverloadedError, TimeoutError } from "../errors/index.js";
import type { RunSession } from "../consistency/index.js";
import { nestedSession } from "../protocol/index.js";
import type { FnMessage, GatewayResponse, TxnMethod } from "../protocol/index.js";
import { singleFunctionDag } from "../scheduler/index.js";
import type { Dispatcher, Membership, Peers, Registry, RunRequest } from "../scheduler/index.js";
import type { HostHandlers, HostInvocation } from "./executor/index.js";
import type { Letter, Mailboxes } from "./mailbox.js";

/** What the node needs to serve `ctx.txn`: the `txn.*` methods, for a function in run `run`. */
export interface FunctionTxnHost {
  handle<M extends TxnMethod>(
    method: M,
    payload: unknown,
    run: RunSession,
  ): Promise<GatewayResponse<M>>;
}

/** What {@link NodeHost} serves host calls with. */
export interface NodeHostParts {
  /** This node's id: the prefix of its invocation ids. */
  id: string;
  /**
   * Pushes a message into the executor running `to` (the pool's `deliver`); false when none
   * holds it.
   */
  deliver(to: string, payload: Uint8Array, from: string, seq?: number): boolean;
  /** Messages for invocations the pool does not hold (yet). */
  boxes: Mailboxes;
  registry: Registry;
  membership: Membership;
  peers: Peers;
  /** Runs nested calls. */
  dispatcher: Dispatcher;
  /** Serves `ctx.txn`; without it `ctx.txn` fails with `INVALID_ARGUMENT`. */
  txn?: FunctionTxnHost;
  /** When tracing: the `traceparent` of an invocation's span, the parent of its nested runs. */
  traceparent?: (inv: string) => string | undefined;
}

/** Most keys a nested call names for placement, and the longest of them. */
const MAX_NESTED_REFS = 64;
const MAX_NESTED_REF_LENGTH = 1024;

/**
 * Host calls from running functions. The pool has checked their arguments already
 * (`decodeHostCall`); `inv.run` is the invocation's {@link RunSession}.
 *
 * @example
 * ```ts
 * const host = new NodeHost({ id, deliver, boxes, registry, membership, peers, dispatcher });
 * new ExecutorPool({ size: 4, host: hostHandler(host) });
 * ```
 */
export class NodeHost implements HostHandlers {
  constructor(private readonly o: NodeHostParts) {}

  async get(
    [key, known]: [key: string, knownVersion?: string],
    inv: HostInvocation,
  ): Promise<Uint8Array | { version: string; bytes?: Uint8Array } | undefined> {
    const r = await session(inv).get(key);
    if (r === undefined) return undefined;
    if (r.version === undefined) return r.bytes;
    // The executor already holding this version gets no bytes: nothing crosses threads.
    return known === r.version ? { version: r.version } : { version: r.version, bytes: r.bytes };
  }

  getLattice([key]: [key: string], inv: HostInvocation): Promise<Uint8Array | undefined> {
    return session(inv).getLattice(key);
  }

  async put(
    [key, value]: [key: string, value: Uint8Array],
    inv: HostInvocation,
  ): Promise<undefined> {
    await session(inv).put(key, value);
    return undefined;
  }

  async merge(
    [key, lattice]: [key: string, lattice: Uint8Array],
    inv: HostInvocation,
  ): Promise<undefined> {
    await session(inv).merge(key, lattice);
    return undefined;
  }

  async delete([key]: [key: string], inv: HostInvocation): Promise<undefined> {
    await session(inv).delete(key);
    return undefined;
  }

  async runId(_args: [], inv: HostInvocation): Promise<string> {
    const s = session(inv);
    return s.runId?.() ?? s.forward().run;
  }

  async send(
    [to, payload, seq]: [to: string, msg: Uint8Array, seq?: number],
    inv: HostInvocation,
  ): Promise<undefined> {
    const from = inv.id;
    const dot = to.lastIndexOf(".");
    const node = dot > 0 ? to.slice(0, dot) : "";
    if (node === this.o.id) {
      // Numbered per sender, so the recipient's worker can order these with the ones the
      // sender's worker sends it directly.
      if (!this.o.deliver(to, payload, from, seq)) {
        const letter: Letter = { m: payload, from };
        if (seq !== undefined) letter.seq = seq;
        if (!this.o.boxes.deliver(to, letter)) {
          throw new OverloadedError(
            `message to ${to} refused: messages waiting for recipients not running on ${this.o.id} are over their bound`,
          );
        }
      }
      return undefined;
    }
    const m = this.o.membership.get(node);
    if (m === undefined) {
      throw new InvalidArgumentError(`cannot send to ${to}: node ${node || "?"} is not live`);
    }
    const msg: FnMessage = { to, from, payload };
    this.o.peers.notify(m.addr, "fnmsg", msg);
    return undefined;
  }

  /** A nested `ctx.call`: a one-function run that continues the caller's. */
  async call(
    [name, list, refs]: [name: string, args: Uint8Array[], refs?: string[]],
    inv: HostInvocation,
  ): Promise<Uint8Array> {
    const s = session(inv);
    await this.o.registry.fn(name);
    // A nested run gets what is left of its caller's time, never a fresh default deadline.
    const left = inv.deadline - Date.now();
    if (!(left > 0)) throw new TimeoutError(`nested call of ${name} from ${inv.fn}: no time left`);
    // The nested run continues the caller's: same level, and what its session carries so
    // far (not the caller's future, which only the caller's sink resolves).
    // A level may hand the call a session of its own (read-atomic: the caller's transaction,
    // joined) and take something back with its result (the call's writes).
    const meta = s.forward();
    const run: RunRequest = {
      def: singleFunctionDag(name),
      inputs: { [name]: list },
      options: { consistency: meta.consistency },
      session: nestedSession(s.nested?.() ?? meta.session),
      nested: true,
    };
    // Keys the arguments reference: placement prefers the node caching them.
    const near = (refs ?? [])
      .filter((k) => k.length <= MAX_NESTED_REF_LENGTH)
      .slice(0, MAX_NESTED_REFS);
    if (near.length > 0) run.refs = { [name]: near };
    if (Number.isFinite(left))
      run.options = { ...run.options, timeoutMs: Math.max(1, Math.floor(left)) };
    const tp = this.o.traceparent?.(inv.id);
    if (tp !== undefined) run.options = { ...run.options, traceparent: tp };
    // The caller cancelled (or timed out): so is what it called.
    if (inv.signal !== undefined) run.signal = inv.signal;
    const out = await this.o.dispatcher.run(run);
    return s.returned?.(out) ?? out;
  }

  async txn(
    [method, payload]: [method: TxnMethod, payload: unknown],
    inv: HostInvocation,
  ): Promise<GatewayResponse<TxnMethod>> {
    if (this.o.txn === undefined) {
      throw new InvalidArgumentError("this node does not run transactions (ctx.txn)");
    }
    return this.o.txn.handle(method, payload, session(inv));
  }
}

/** The session of the run an invocation belongs to: what the node gave the pool as `run`. */
function session(inv: HostInvocation): RunSession {
  return inv.run as RunSession;
}

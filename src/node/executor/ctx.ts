/**
 * The ctx user functions receive, on the worker side. Everything but `id()` and `state` is a host
 * call: a message to the main thread, answered by the node's host handler. User values are encoded
 * here, in the worker, so the main thread only ever moves bytes (see runtime notes: user values are
 * decoded only by the executor that runs the function).
 */
import { decodeValue, encodeValue } from "../../lattice/values.js";
import { fromWireError } from "../../errors/index.js";
import type { FunctionContext, HostCallMsg, HostOp, HostReplyMsg } from "./types.js";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Numbers host calls and matches the main thread's answers to them. */
export class HostLink {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly post: (m: HostCallMsg) => void) {}

  /** Sends one host call for invocation `inv`; settles with the host's answer. */
  call(inv: string, op: HostOp, a: unknown[]): Promise<unknown> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.post({ t: "host", inv, seq, op, a });
    });
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

function decodeOptional<T>(v: unknown): T | undefined {
  return v instanceof Uint8Array ? decodeValue<T>(v) : undefined;
}

/**
 * One invocation's ctx. A class, so a ctx costs one small object per call and its methods live on
 * the prototype; they therefore need their receiver: call `ctx.get(k)`, not a detached `get(k)`.
 */
export class Ctx implements FunctionContext {
  constructor(
    private readonly link: HostLink,
    private readonly inv: string,
    readonly state: unknown,
  ) {}

  id(): string {
    return this.inv;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return decodeOptional<T>(await this.link.call(this.inv, "get", [key]));
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.link.call(this.inv, "put", [key, encodeValue(value)]);
  }

  async delete(key: string): Promise<void> {
    await this.link.call(this.inv, "delete", [key]);
  }

  async send(to: string, msg: unknown): Promise<void> {
    await this.link.call(this.inv, "send", [to, encodeValue(msg)]);
  }

  async recv<T = unknown>(opts: { timeoutMs?: number } = {}): Promise<T | undefined> {
    const o = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
    return decodeOptional<T>(await this.link.call(this.inv, "recv", [o]));
  }

  async call<T = unknown>(name: string, args: unknown[]): Promise<T> {
    const out = await this.link.call(this.inv, "call", [name, args.map((a) => encodeValue(a))]);
    return decodeOptional<T>(out) as T;
  }
}

/**
 * A test double for the node's side of the ctx: the real host callback lives in the node and talks
 * to storage and other nodes; this one keeps keys in a Map and mailboxes in memory, and records
 * every call so tests can see what user code asked for. Like the node, it pushes messages into
 * the pool when their invocation is there, and buffers them otherwise.
 */
import { ExecutorPool } from "../../src/node/executor/index.js";
import type {
  ExecutorPoolOptions,
  FunctionCode,
  HostHandler,
  HostInvocation,
  HostOp,
} from "../../src/node/executor/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";

export class MemoryHost {
  readonly store = new Map<string, Uint8Array>();
  readonly log: { op: HostOp; args: unknown[]; inv: HostInvocation }[] = [];
  /** Functions reachable through `ctx.call`, implemented in the test. */
  readonly functions = new Map<string, (args: unknown[]) => unknown>();
  /** Set to make the next host calls fail with this error. */
  failWith: Error | undefined;
  /** The pool messages are pushed into (as the node does). */
  pool: ExecutorPool | undefined;
  /** Messages for invocations the pool does not hold yet. */
  private readonly boxes = new Map<string, Uint8Array[]>();
  private readonly sendWatchers: ((to: string, msg: unknown) => void)[] = [];

  readonly handler: HostHandler = async (op, args, inv) => {
    this.log.push({ op, args, inv });
    if (this.failWith !== undefined) throw this.failWith;
    const key = args[0] as string;
    switch (op) {
      case "get":
        return this.store.get(key);
      case "put":
        this.store.set(key, args[1]);
        return undefined;
      case "delete":
        this.store.delete(key);
        return undefined;
      case "send":
        this.deliver(key, args[1]);
        return undefined;
      case "call": {
        const fn = this.functions.get(key);
        if (fn === undefined) throw new Error(`no function ${key}`);
        const decoded = args[1].map((a) => decodeValue(a));
        return encodeValue(await fn(decoded));
      }
    }
  };

  /** Puts a message in mailbox `to` (an invocation id, or any name). */
  deliver(to: string, msg: Uint8Array): void {
    for (const w of this.sendWatchers) w(to, decodeValue(msg));
    if (this.pool?.deliver(to, msg) === true) return;
    const box = this.boxes.get(to);
    if (box !== undefined) box.push(msg);
    else this.boxes.set(to, [msg]);
  }

  /** Hands messages buffered for `id` to the pool, once its invocation is there. */
  flush(id: string): void {
    const box = this.boxes.get(id);
    if (box === undefined || this.pool === undefined) return;
    this.boxes.delete(id);
    for (const m of box) this.pool.deliver(id, m);
  }

  /** Resolves once `count` messages have been sent to mailbox `to` (counting from now). */
  sends(to: string, count: number): Promise<unknown[]> {
    const seen: unknown[] = [];
    return new Promise((resolve) => {
      this.sendWatchers.push((name, msg) => {
        if (name !== to) return;
        seen.push(msg);
        if (seen.length === count) resolve(seen);
      });
    });
  }
}

/**
 * Announces itself on the "started" mailbox, then waits for a message addressed to its own
 * invocation: the test decides when each call may finish.
 */
export const barrier: FunctionCode = {
  name: "barrier",
  version: "1",
  kind: "source",
  source:
    "async (ctx) => { await ctx.send('started', ctx.id()); return [ctx.id(), await ctx.recv()]; }",
};

/** A started pool wired to a fresh MemoryHost. */
export async function startPool(
  opts: Partial<ExecutorPoolOptions> = {},
): Promise<{ pool: ExecutorPool; host: MemoryHost }> {
  const host = new MemoryHost();
  const pool = new ExecutorPool({ size: 2, ...opts, host: host.handler });
  host.pool = pool;
  await pool.start();
  return { pool, host };
}

let ids = 0;

/** Runs `source` with plain values as arguments and decodes the result. */
export async function run(
  pool: ExecutorPool,
  code: FunctionCode | string,
  args: unknown[] = [],
  id = `inv-${++ids}`,
  host?: MemoryHost,
): Promise<unknown> {
  const c: FunctionCode =
    typeof code === "string" ? { name: "f", version: code, kind: "source", source: code } : code;
  const running = pool.invoke({ id, code: c, args: args.map((a) => encodeValue(a)) });
  host?.flush(id);
  return decodeValue(await running);
}

/**
 * Worker thread entry: runs the invocations the pool posts, up to each one's concurrency at
 * once. Invocations start strictly in the order they arrive; the one at the front starts when
 * fewer invocations run than both its own concurrency and that of every invocation running
 * (so a `concurrency: 1` function runs alone). A chained invocation waits for the one before it
 * in its chain without holding back those behind it. The pool applies the same rule to what it
 * has posted (slot.ts, `Slot.advance`) to know which invocations run, so the two must agree.
 * Every message out names its invocation.
 *
 * It is also the thread's composition root: the one file of src/node that names src/txn, to
 * give `ctx.txn` its transaction client (eslint.config.js holds it to that file alone).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import { decodeValue, encodeValueOwned } from "../../lattice/values.js";
import { FunctionError, toWireError } from "../../errors/index.js";
import type { WireError } from "../../errors/index.js";
import { CodeCache } from "./code-cache.js";
import { compile } from "./compile.js";
import type { UserFunction } from "./compile.js";
import { Cancellation, Ctx, HostLink } from "./ctx.js";
import { ConsoleCapture } from "./console.js";
import { MemoryGuard } from "./memory.js";
import { describeThrown, failure } from "./thrown.js";
import { BEFORE_EXIT, mayStart } from "./types.js";
import { REF_MARKER } from "../../function/index.js";
// The file, not the txn index: a worker loads no storage code.
import { ClientTransactions } from "../../txn/handle.js";
import type { DownMsg, FunctionCode, MailMsg, RunMsg, UpMsg } from "./types.js";

// esbuild's keepNames helper, referenced by code that tsx or esbuild transformed.
(globalThis as { __name?: unknown }).__name ??= (f: unknown) => f;

// A promise user code forgot to handle (say a `ctx.put` not awaited, answered after the call
// ended) must not take down the worker and everything queued on it.
process.on("unhandledRejection", (e) => {
  console.error(`stratus executor: unhandled rejection in user code: ${describeThrown(e)}`);
});

if (parentPort === null) throw new Error("worker.ts must run in a worker thread");
const port = parentPort;
const data = (workerData ?? {}) as { valueCacheBytes?: unknown; externalBytes?: unknown };
const cacheBytes = typeof data.valueCacheBytes === "number" ? data.valueCacheBytes : 128 << 20;
// Every message out (results, errors, host calls) first checks user code's external memory.
// `transfer`: buffers that move to the main thread (each held by that message alone). Messages
// of one turn (the host calls of an invocation that asks several things at once, the results
// and calls of invocations resumed in one turn) go as one array at its end: each postMessage
// wakes the main thread, and under load that wake-up costs more than the message. Nothing waits
// behind the start of another invocation (see `pump`).
let outbox: UpMsg[] = [];
let outMoved: ArrayBuffer[] = [];
let outScheduled = false;
const flushOut = (): void => {
  outScheduled = false;
  if (outbox.length === 0) return;
  const batch = outbox;
  const moved = outMoved;
  outbox = [];
  outMoved = [];
  port.postMessage(batch.length === 1 ? batch[0] : batch, moved);
};
const post = (m: UpMsg, transfer?: readonly ArrayBuffer[]): void => {
  guard.check();
  outbox.push(m);
  if (transfer !== undefined) for (const b of transfer) outMoved.push(b);
  if (!outScheduled) {
    outScheduled = true;
    queueMicrotask(flushOut);
  }
};
/** Answers an invocation whose result stays here for the next call of its chain. */
const EMPTY = new Uint8Array(0);
const link = new HostLink(post, cacheBytes, (rpc) => new ClientTransactions(rpc));
const perInvocationBytes = typeof data.externalBytes === "number" ? data.externalBytes : 512 << 20;
// The limit is per invocation: a worker running n of them at once may hold n times it (see
// memory.ts for why the guard cannot tell whose Buffer is whose).
const guard = new MemoryGuard(
  () => perInvocationBytes * Math.max(1, active.size),
  () => link.values.bytes,
  (code) => {
    flushOut(); // what this worker answered before it ran out still reaches the pool
    process.exit(code);
  },
);
guard.install(globalThis);
// Each console line goes to the node with the invocation that wrote it (see console.ts).
const capture = new ConsoleCapture(post);
capture.install(console);

/** One function version as this worker knows it. */
interface Entry {
  code: FunctionCode;
  fn?: UserFunction;
  init?: UserFunction;
  initDone: boolean;
  state: unknown;
}

interface Item {
  id: string;
  entry: Entry | undefined;
  args: Uint8Array[];
  /** How many invocations may run in this worker while this one does. */
  c: number;
  /** Chains: the invocation whose result comes first in `args`, and whether to keep ours. */
  u?: string;
  keep?: true;
  drop?: true;
  /** Deadline (Date.now() ms): an item reached after it is answered TIMEOUT, not run. */
  d?: number;
  /** Its run buffers its writes: the ctx does not wait for the host to take them. */
  w?: true;
  /** Told to stop (`abort` message): aborts `ctx.signal`; an item not yet started never runs. */
  cancel: Cancellation;
}

/** Results kept for the next call of a chain (null: the call failed, so the next one fails). */
const results = new Map<string, Uint8Array | null>();
/** Invocations arrived and not yet started, in arrival order. */
const waiting: Item[] = [];
/** Invocations running now, by id. */
const active = new Map<string, Item>();

/** Compiled versions; the pool's handle on this worker mirrors it (see code-cache.ts). */
const cache = new CodeCache<Entry>();

/** The version an invocation runs: the one that came with it, else the one this worker kept. */
function admit(m: RunMsg): Entry | undefined {
  return cache.admit(
    m.k,
    m.c === undefined ? undefined : { code: m.c, initDone: false, state: undefined },
  );
}

port.on("message", (batch: DownMsg[]) => {
  for (const m of batch) {
    if (m.t === "inv") {
      const item: Item = {
        id: m.id,
        entry: admit(m),
        args: m.a,
        c: m.n ?? 1,
        cancel: new Cancellation(),
      };
      if (m.u !== undefined) item.u = m.u;
      if (m.keep === true) item.keep = true;
      if (m.drop === true) item.drop = true;
      if (m.d !== undefined) item.d = m.d;
      if (m.w === true) item.w = true;
      waiting.push(item);
      link.known.add(m.id);
    } else if (m.t === "mail") {
      // Mail follows its invocation in the same batch order; for a finished one it has no reader.
      if (link.known.has(m.inv)) link.inboxes.deliver(m.inv, m.m, m.f, m.s);
    } else if (m.t === "abort") abort(m.inv, m.code, m.why);
    else if (m.t === "route") link.route(m.inv, m.slot);
    else if (m.t === "peer") peer(m.slot, m.port);
    else if (m.t === "exit") return void exitGracefully();
    else link.settle(m);
  }
  pump();
});

/**
 * The pool has answered invocation `id` (cancelled, or past its time limit) and asks it to stop:
 * a running one sees its signal aborted and its `recv` woken; one still waiting here is answered
 * without running when its turn comes. The pool counts on an answer for each.
 */
function abort(id: string, code: "CANCELLED" | "FUNCTION_TIMEOUT" | "TIMEOUT", why: string): void {
  const running = active.get(id);
  if (running !== undefined) {
    running.cancel.abort(code, why);
    link.inboxes.drop(id);
    return;
  }
  for (const item of waiting) if (item.id === id) item.cancel.abort(code, why);
}

/** Longest the before-exit hooks may take; the pool terminates the worker a little later. */
const EXIT_HOOKS_MS = 4000;

/** Runs what code here registered under BEFORE_EXIT (each at most once), then exits. */
async function exitGracefully(): Promise<never> {
  const hooks = (globalThis as { [BEFORE_EXIT]?: Set<() => unknown> })[BEFORE_EXIT];
  const all = Promise.allSettled([...(hooks ?? [])].map(async (h) => h()));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((r) => (timer = setTimeout(r, EXIT_HOOKS_MS)))]);
  clearTimeout(timer);
  process.exit(0);
}

/** A direct port to another worker: messages from its invocations to ours arrive on it. */
function peer(slot: number, p: MessagePort | undefined): void {
  link.unpeer(slot);
  if (p === undefined) return;
  link.ports.set(slot, p);
  p.on("message", (m: MailMsg) => {
    // Only for invocations still here; a late message for a finished one has no reader.
    if (m.t === "mail" && link.known.has(m.inv)) link.inboxes.deliver(m.inv, m.m, m.f, m.s);
  });
  p.unref();
}

function finish(item: Item): void {
  if (item.keep === true && !results.has(item.id)) results.set(item.id, null);
  active.delete(item.id);
  link.known.delete(item.id);
  link.inboxes.drop(item.id);
}

/** The concurrency of the strictest invocation running (Infinity when none runs). */
function activeLimit(): number {
  let limit = Infinity;
  for (const a of active.values()) if (a.c < limit) limit = a.c;
  return limit;
}

let pumping = false;

/** Starts what may start now (see the top of this file), in arrival order. */
function pump(): void {
  if (pumping) return; // a synchronous finish inside the loop below: the loop looks again
  pumping = true;
  try {
    let i = 0;
    while (i < waiting.length) {
      const item = waiting[i] as Item;
      const verdict = mayStart(
        item.u !== undefined && link.known.has(item.u),
        item.c,
        active.size,
        activeLimit(),
      );
      if (verdict === "wait") {
        i++;
        continue;
      }
      if (verdict === "full") return;
      waiting.splice(i, 1);
      active.set(item.id, item);
      // What earlier invocations answered goes now: this one may run long without yielding,
      // and a finished call's result held behind it could reach the pool past its time limit.
      flushOut();
      if (start(item)) i = 0; // finished at once: what it held back may start now
    }
  } finally {
    pumping = false;
  }
}

/** Runs `item`; true when it finished synchronously (the common, cheap case). */
function start(item: Item): boolean {
  let pending: Promise<void> | undefined;
  try {
    pending = runOne(item);
  } catch (e) {
    // runOne answers every failure itself; this is the last line, so the queue never stalls.
    fail(item, failure(item.entry?.code.name ?? "?", e).e);
  }
  if (pending === undefined) {
    finish(item);
    return true;
  }
  const next = (): void => {
    finish(item);
    pump();
  };
  pending.then(next, (e: unknown) => {
    fail(item, failure(item.entry?.code.name ?? "?", e).e);
    next();
  });
  return false;
}

function fail(item: Item, e: WireError): void {
  post({ t: "err", inv: item.id, e });
}

/**
 * Arguments are decoded in place: their bytes were moved here for this invocation alone (or are
 * the previous result of its chain), so Buffers and aligned typed arrays view them, uncopied.
 */
function decodeArgs(args: Uint8Array[]): { values: unknown[]; refs: boolean } {
  const values = new Array<unknown>(args.length);
  let refs = false;
  for (let i = 0; i < args.length; i++) {
    const v = decodeValue(args[i] as Uint8Array, { inPlace: true });
    values[i] = v;
    if (!refs && refKey(v) !== undefined) refs = true;
  }
  return { values, refs };
}

function refKey(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const key = (v as Record<string, unknown>)[REF_MARKER];
  return typeof key === "string" && Object.keys(v).length === 1 ? key : undefined;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";

/**
 * Runs one invocation. Returns undefined when it finished synchronously (the common, cheap case:
 * compiled, initialised, no references, sync function), else a promise that never rejects.
 */
function runOne(item: Item): Promise<void> | undefined {
  if (item.u !== undefined) {
    const input = results.get(item.u);
    results.delete(item.u);
    if (input === undefined || input === null) {
      const why = input === null ? "failed" : "left no result";
      fail(item, {
        code: "FUNCTION_ERROR",
        message: `the call before ${item.id} in its chain ${why}`,
        retryable: false,
      });
      return undefined;
    }
    item.args = [input, ...item.args];
  }
  const stopped = item.cancel.reason;
  if (stopped !== undefined) {
    fail(item, toWireError(stopped));
    return undefined;
  }
  if (item.d !== undefined && Date.now() >= item.d) {
    const message = `function ${item.entry?.code.name ?? "?"} was not started: its caller's deadline passed ${Date.now() - item.d} ms before it reached a worker`;
    fail(item, { code: "TIMEOUT", message, retryable: true });
    return undefined;
  }
  const entry = item.entry;
  if (entry === undefined) {
    const message = `worker has no code for invocation ${item.id}`;
    fail(item, { code: "INTERNAL", message, retryable: false });
    return undefined;
  }
  const name = entry.code.name;
  if (entry.fn === undefined || !entry.initDone) {
    return capture.run(item.id, name, runSlow, item, entry, undefined);
  }
  try {
    const { values, refs } = decodeArgs(item.args);
    if (refs) return capture.run(item.id, name, runSlow, item, entry, values);
    const fn = entry.fn; // called unbound, so stacks read "at inc", not "at Object.fn"
    const ctx = new Ctx(link, item.id, entry.state, item.cancel, item.w === true);
    const out = capture.run(item.id, name, fn, ctx, ...values);
    if (!isThenable(out)) return reply(item, entry, out);
    return Promise.resolve(out).then(
      (v) => reply(item, entry, v),
      (e) => fail(item, failure(entry.code.name, e).e),
    );
  } catch (e) {
    fail(item, failure(entry.code.name, e).e);
    return undefined;
  }
}

async function runSlow(item: Item, entry: Entry, decoded?: unknown[]): Promise<void> {
  const name = entry.code.name;
  try {
    if (entry.fn === undefined) {
      const c = compile(entry.code);
      entry.fn = c.fn;
      entry.init = c.init;
      entry.initDone = c.init === undefined;
    }
    if (!entry.initDone && entry.init !== undefined) {
      try {
        await initOnce(entry, item);
      } catch (e) {
        fail(item, failure(name, e, `init of ${name} failed: `).e);
        return;
      }
    }
    const values = decoded ?? decodeArgs(item.args).values;
    const ctx = new Ctx(link, item.id, entry.state, item.cancel, item.w === true);
    await resolveRefs(ctx, values);
    const fn = entry.fn;
    reply(item, entry, await fn(ctx, ...values));
  } catch (e) {
    fail(item, failure(name, e).e);
  } finally {
    // Its result is encoded (a copy) by now: the arrays lent to it can go to the next one.
    link.values.release(item.id);
  }
}

/** Inits in flight, by version: invocations of one version started together share one init. */
const initing = new Map<Entry, Promise<void>>();

function initOnce(entry: Entry, item: Item): Promise<void> {
  let p = initing.get(entry);
  if (p === undefined) {
    const init = entry.init as UserFunction;
    p = (async () => {
      entry.state = await init(new Ctx(link, item.id, undefined, item.cancel));
      entry.initDone = true;
    })().finally(() => initing.delete(entry));
    initing.set(entry, p);
  }
  return p;
}

/** Replaces `{ $stratusRef: key }` arguments by the keys' values, fetched in parallel. */
async function resolveRefs(ctx: Ctx, values: unknown[]): Promise<void> {
  const pending: Promise<void>[] = [];
  for (let i = 0; i < values.length; i++) {
    const key = refKey(values[i]);
    if (key !== undefined) pending.push(ctx.getRef(key).then((v) => void (values[i] = v)));
  }
  await Promise.all(pending);
}

function reply(item: Item, entry: Entry, value: unknown): undefined {
  let bytes: Uint8Array;
  try {
    // Into a buffer of its own (one copy; none more for a top-level tensor), moved, not cloned.
    bytes = encodeValueOwned(value);
  } catch (e) {
    const why = failure(entry.code.name, e).e.message;
    const err = new FunctionError(
      `function ${entry.code.name} returned a value that cannot be encoded: ${why}`,
      { details: { function: entry.code.name } },
    );
    fail(item, toWireError(err));
    return undefined;
  }
  if (item.keep === true) {
    // Kept for the next call of the chain, so it cannot move: the pool gets a copy, or nothing.
    results.set(item.id, bytes);
    if (item.drop === true) post({ t: "ok", inv: item.id, v: EMPTY });
    else {
      const copy = new Uint8Array(bytes);
      post({ t: "ok", inv: item.id, v: copy }, [copy.buffer]);
    }
    return undefined;
  }
  post({ t: "ok", inv: item.id, v: bytes }, [bytes.buffer as ArrayBuffer]);
  return undefined;
}

post({ t: "ready" });

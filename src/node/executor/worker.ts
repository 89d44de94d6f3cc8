/**
 * Worker thread entry: runs the invocations the pool posts, strictly one at a time and in the
 * order they arrive. The pool relies on that order: it infers which invocation is running from
 * the results it has received, so this file must never start an invocation before the previous
 * one's result (or error) has been posted.
 *
 * It is also the thread's composition root: the one file of src/node that names src/txn, to
 * give `ctx.txn` its transaction client (eslint.config.js holds it to that file alone).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import { decodeValue, encodeValueOwned } from "../../lattice/values.js";
import { FunctionError, toWireError } from "../../errors/index.js";
import { CodeCache } from "./code-cache.js";
import { compile } from "./compile.js";
import type { UserFunction } from "./compile.js";
import { Cancellation, Ctx, HostLink } from "./ctx.js";
import { ConsoleCapture } from "./console.js";
import { MemoryGuard } from "./memory.js";
import { describeThrown, failure } from "./thrown.js";
import { BEFORE_EXIT } from "./types.js";
import { REF_MARKER } from "../../function/index.js";
// The file, not the txn index: a worker loads no storage code.
import { ClientTransactions } from "../../txn/handle.js";
import type { DownMsg, ErrMsg, FunctionCode, MailMsg, RunMsg, UpMsg } from "./types.js";

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
// `transfer`: buffers that move to the main thread (each held by that message alone).
const post = (m: UpMsg, transfer?: readonly ArrayBuffer[]): void => {
  guard.check();
  port.postMessage(m, transfer);
};
/** Answers an invocation whose result stays here for the next call of its chain. */
const EMPTY = new Uint8Array(0);
const link = new HostLink(post, cacheBytes, (rpc) => new ClientTransactions(rpc));
const guard = new MemoryGuard(
  typeof data.externalBytes === "number" ? data.externalBytes : 512 << 20,
  () => link.values.bytes,
  (code) => process.exit(code),
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
  /** Chains: the invocation whose result comes first in `args`, and whether to keep ours. */
  u?: string;
  keep?: true;
  drop?: true;
  /** Deadline (Date.now() ms): an item reached after it is answered TIMEOUT, not run. */
  d?: number;
  /** Told to stop (`abort` message): aborts `ctx.signal`; an item not yet started never runs. */
  cancel: Cancellation;
}

/** Results kept for the next call of a chain (null: the call failed, so the next one fails). */
const results = new Map<string, Uint8Array | null>();
/** The invocation running now; one at a time, so one variable. */
let current: Item | undefined;

/** Compiled versions; the pool's handle on this worker mirrors it (see code-cache.ts). */
const cache = new CodeCache<Entry>();

/** The version an invocation runs: the one that came with it, else the one this worker kept. */
function admit(m: RunMsg): Entry | undefined {
  return cache.admit(
    m.k,
    m.c === undefined ? undefined : { code: m.c, initDone: false, state: undefined },
  );
}

const queue: (Item | undefined)[] = [];
let head = 0;
let running = false;

port.on("message", (batch: DownMsg[]) => {
  for (const m of batch) {
    if (m.t === "inv") {
      const item: Item = { id: m.id, entry: admit(m), args: m.a, cancel: new Cancellation() };
      if (m.u !== undefined) item.u = m.u;
      if (m.keep === true) item.keep = true;
      if (m.drop === true) item.drop = true;
      if (m.d !== undefined) item.d = m.d;
      queue.push(item);
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
  if (!running) drain();
});

/**
 * The pool has answered invocation `id` (cancelled, or past its time limit) and asks it to stop:
 * the running one sees its signal aborted and its `recv` woken; one still queued here is answered
 * without running when its turn comes. The pool counts on an answer for each, in order.
 */
function abort(id: string, code: "CANCELLED" | "FUNCTION_TIMEOUT" | "TIMEOUT", why: string): void {
  if (current?.id === id) {
    current.cancel.abort(code, why);
    link.inboxes.drop(id);
    return;
  }
  for (let i = head; i < queue.length; i++) {
    const item = queue[i];
    if (item?.id === id) item.cancel.abort(code, why);
  }
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

function finish(id: string): void {
  if (current?.keep === true && !results.has(id)) results.set(id, null);
  current = undefined;
  link.known.delete(id);
  link.inboxes.drop(id);
}

function drain(): void {
  running = true;
  while (head < queue.length) {
    const item = queue[head] as Item;
    queue[head++] = undefined;
    let pending: Promise<void> | undefined;
    try {
      pending = runOne(item);
    } catch (e) {
      // runOne answers every failure itself; this is the last line, so the queue never stalls.
      post(failure(item.entry?.code.name ?? "?", e));
    }
    if (pending !== undefined) {
      const next = (): void => {
        finish(item.id);
        drain();
      };
      pending.then(next, (e: unknown) => {
        post(failure(item.entry?.code.name ?? "?", e));
        next();
      });
      return;
    }
    finish(item.id);
  }
  queue.length = 0;
  head = 0;
  running = false;
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
  current = item;
  if (item.u !== undefined) {
    const input = results.get(item.u);
    results.delete(item.u);
    if (input === undefined || input === null) {
      const why = input === null ? "failed" : "left no result";
      post({
        t: "err",
        e: {
          code: "FUNCTION_ERROR",
          message: `the call before ${item.id} in its chain ${why}`,
          retryable: false,
        },
      });
      return undefined;
    }
    item.args = [input, ...item.args];
  }
  const stopped = item.cancel.reason;
  if (stopped !== undefined) {
    post({ t: "err", e: toWireError(stopped) });
    return undefined;
  }
  if (item.d !== undefined && Date.now() >= item.d) {
    const message = `function ${item.entry?.code.name ?? "?"} was not started: its caller's deadline passed ${Date.now() - item.d} ms before it reached a worker`;
    post({ t: "err", e: { code: "TIMEOUT", message, retryable: true } });
    return undefined;
  }
  const entry = item.entry;
  if (entry === undefined) {
    post(internal(`worker has no code for invocation ${item.id}`));
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
    const ctx = new Ctx(link, item.id, entry.state, item.cancel);
    const out = capture.run(item.id, name, fn, ctx, ...values);
    if (!isThenable(out)) return reply(entry, out);
    return Promise.resolve(out).then(
      (v) => reply(entry, v),
      (e) => post(failure(entry.code.name, e)),
    );
  } catch (e) {
    post(failure(entry.code.name, e));
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
        const init = entry.init;
        entry.state = await init(new Ctx(link, item.id, undefined, item.cancel));
      } catch (e) {
        post(failure(name, e, `init of ${name} failed: `));
        return;
      }
      entry.initDone = true;
    }
    const values = decoded ?? decodeArgs(item.args).values;
    const ctx = new Ctx(link, item.id, entry.state, item.cancel);
    await resolveRefs(ctx, values);
    const fn = entry.fn;
    reply(entry, await fn(ctx, ...values));
  } catch (e) {
    post(failure(name, e));
  }
}

/** Replaces `{ $stratusRef: key }` arguments by the keys' values, fetched in parallel. */
async function resolveRefs(ctx: Ctx, values: unknown[]): Promise<void> {
  const pending: Promise<void>[] = [];
  for (let i = 0; i < values.length; i++) {
    const key = refKey(values[i]);
    if (key !== undefined) pending.push(ctx.get(key).then((v) => void (values[i] = v)));
  }
  await Promise.all(pending);
}

function reply(entry: Entry, value: unknown): undefined {
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
    post({ t: "err", e: toWireError(err) });
    return undefined;
  }
  if (current?.keep === true) {
    // Kept for the next call of the chain, so it cannot move: the pool gets a copy, or nothing.
    results.set(current.id, bytes);
    if (current.drop === true) post(EMPTY);
    else {
      const copy = new Uint8Array(bytes);
      post(copy, [copy.buffer]);
    }
    return undefined;
  }
  post(bytes, [bytes.buffer as ArrayBuffer]);
  return undefined;
}

function internal(message: string): ErrMsg {
  return { t: "err", e: { code: "INTERNAL", message, retryable: false } };
}

post({ t: "ready" });

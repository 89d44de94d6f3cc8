/**
 * The pool's dealings with single calls, kept apart from its scheduling: checking what callers
 * pass in, answering host calls, and the errors a call gets when its worker is lost.
 */
import {
  FunctionError,
  FunctionTimeoutError,
  InvalidArgumentError,
  StratusError,
  TimeoutError,
  ensureError,
  toWireError,
} from "../../errors/index.js";
import { performance } from "node:perf_hooks";
import type { Job } from "./job.js";
import type { Slot } from "./slot.js";
import { ownValueBytes } from "../../lattice/index.js";
import { ownBytes } from "./types.js";
import type { HostCallMsg, Invocation } from "./types.js";
import { decodeHostCall } from "./host-calls.js";
import type { HostCall, HostHandler, HostOp, HostResult, VersionedValue } from "./host-calls.js";

function isVersioned(v: unknown): v is VersionedValue {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) return false;
  const o = v as Record<string, unknown>;
  return typeof o.version === "string" && (o.bytes === undefined || o.bytes instanceof Uint8Array);
}

/**
 * The bytes a host answered, as one copy moved to the worker: the originals (the node's cache,
 * say) stay untouched, and the worker decodes its copy in place. Anything else could fail to
 * clone and lose the batch: INTERNAL.
 */
function bytesFor(op: HostOp, v: unknown, moved: ArrayBuffer[]): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new StratusError("INTERNAL", `host ${op} returned a non-bytes value`);
  }
  return toWorker(v, moved);
}

/**
 * What the worker gets for each op's answer: checked against the op's result type (a host is
 * user-supplied in tests and embeddings) and with its bytes made movable.
 */
const REPLIES: { [Op in HostOp]: (v: unknown, moved: ArrayBuffer[]) => HostResult<Op> } = {
  get: (v, moved) => {
    if (v === undefined) return undefined;
    if (!isVersioned(v)) return bytesFor("get", v, moved);
    const out: VersionedValue = { version: v.version };
    if (v.bytes !== undefined) out.bytes = toWorker(v.bytes, moved);
    return out;
  },
  getLattice: (v, moved) => (v === undefined ? undefined : bytesFor("getLattice", v, moved)),
  call: (v, moved) => bytesFor("call", v, moved),
  put: () => undefined,
  merge: () => undefined,
  delete: () => undefined,
  send: () => undefined,
  runId: (v) => (typeof v === "string" ? v : ""),
  // Plain objects of strings, numbers, null and bytes, built by src/txn (never user values), so
  // they clone.
  txn: (v) => (v ?? null) as HostResult<"txn">,
};

/** Below this, bytes for a worker are cloned: a transfer costs more than copying a few bytes. */
const TRANSFER_MIN_BYTES = 4096;

/**
 * Bytes to post to a worker: big ones copied once into a buffer of their own, added to `moved`
 * (to transfer), since the originals stay with their owner; small ones as before, cloned.
 */
export function toWorker(b: Uint8Array, moved: ArrayBuffer[]): Uint8Array {
  if (b.byteLength < TRANSFER_MIN_BYTES) return ownBytes(b);
  const own = ownValueBytes(b);
  moved.push(own.buffer as ArrayBuffer);
  return own;
}

/** A time limit: a finite number of milliseconds above zero (not NaN, Infinity or a string). */
export function positiveFinite(n: unknown): n is number {
  return typeof n === "number" && Number.isFinite(n) && n > 0;
}

/** The error of a call whose deadline passed before it could start. */
export function lateError(call: Invocation, now: number): Error {
  const fn = call.code.name;
  const late = now - (call.deadline ?? now);
  return new TimeoutError(
    `function ${fn} was not started: its caller's deadline passed ${late} ms before a worker was free`,
    { details: { function: fn, invocation: call.id } },
  );
}

/** Checks the shape of a call before it is queued: a bad one must not reach postMessage. */
export function checkInvocation(call: Invocation): InvalidArgumentError | undefined {
  const c = call?.code as Partial<Invocation["code"]> | undefined;
  if (typeof call?.id !== "string") return InvalidArgumentError.field("id", "must be a string");
  if (typeof c?.name !== "string" || typeof c.version !== "string") {
    return InvalidArgumentError.field("code", "needs a string name and version");
  }
  if (typeof c.source !== "string" || (c.kind !== "source" && c.kind !== "module")) {
    return InvalidArgumentError.field(
      "code",
      'needs a string source and kind "source" or "module"',
    );
  }
  if (c.timeoutMs !== undefined && !positiveFinite(c.timeoutMs)) {
    return InvalidArgumentError.field("code.timeoutMs", "must be a finite number > 0");
  }
  const n = c.concurrency;
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
    return InvalidArgumentError.field("code.concurrency", "must be an integer ≥ 1");
  }
  if (call.deadline !== undefined && !Number.isFinite(call.deadline)) {
    return InvalidArgumentError.field("deadline", "must be a finite number (Date.now() ms)");
  }
  if (!Array.isArray(call.args) || !call.args.every((a) => a instanceof Uint8Array)) {
    return InvalidArgumentError.field("args", "must be an array of Uint8Array (encodeValue)");
  }
  return undefined;
}

/**
 * A host call from user code: checks that it comes from a call running in that worker, asks the
 * host, and posts the answer back to the worker. Returns the host's pending answer, or undefined
 * when the call was refused.
 */
export function answerHostCall(
  slot: Slot,
  m: HostCallMsg,
  host: HostHandler,
): Promise<unknown> | undefined {
  const job = slot.find(m.inv);
  if (job?.started !== true) {
    const err = new FunctionError(`ctx of invocation ${m.inv} was used after it returned`);
    slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(err) });
    return undefined;
  }
  if (job.abandoned !== undefined) {
    // Cancelled or timed out, and answered: what it still asks for (a late write) never lands.
    if (m.seq !== 0) slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(job.abandoned) });
    return undefined;
  }
  const { call } = job;
  // The end of the time limit, moved from performance.now() to Date.now() time for the host.
  // Whole ms: a limit converted from the run's own deadline must come back as that deadline.
  const limit = Math.ceil(Date.now() + ((job.deadlineAt ?? Infinity) - performance.now()));
  const deadline = Math.min(call.deadline ?? Infinity, limit);
  const info = (job.info ??= { id: call.id, run: call.run, fn: call.code.name, deadline });
  if (m.op === "call") info.signal ??= (job.stop ??= new AbortController()).signal;
  let p: Promise<unknown>;
  try {
    const hostCall: HostCall = decodeHostCall(m.op, m.a, info);
    p = host(...hostCall);
  } catch (e) {
    p = Promise.reject(ensureError(e));
  }
  if (m.seq === 0) {
    // Nobody waits for this one. A buffered write the host refused fails its invocation; a
    // `ctx.send` that failed has no one to reach.
    if (m.d === 1) job.defer(p);
    else p.catch(() => undefined);
    return p;
  }
  const reply = REPLIES[m.op];
  p.then(
    (v) => {
      const moved: ArrayBuffer[] = [];
      let out: unknown;
      try {
        out = reply(v, moved);
      } catch (e) {
        slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(e) });
        return;
      }
      slot.post({ t: "res", seq: m.seq, ok: true, v: out }, moved);
    },
    (e) => slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(e) }),
  );
  return p;
}

/** The error of a call whose worker was killed for exceeding its time limit. */
export function timeoutError(job: Job): Error {
  const fn = job.call.code.name;
  return new FunctionTimeoutError(`function ${fn} exceeded its time limit of ${job.timeoutMs} ms`, {
    details: { function: fn, timeoutMs: job.timeoutMs },
  });
}

/** The error of a call stopped because its caller's run reached its deadline first. */
export function runEndedError(job: Job): Error {
  const fn = job.call.code.name;
  return new TimeoutError(`function ${fn} was stopped: its run's deadline passed while it ran`, {
    details: { function: fn },
  });
}

/**
 * The pool's dealings with single calls, kept apart from its scheduling: checking what callers
 * pass in, answering host calls, and the errors a call gets when its worker is lost.
 */
import {
  FunctionError,
  FunctionOomError,
  FunctionTimeoutError,
  InvalidArgumentError,
  StratusError,
  ensureError,
  toWireError,
} from "../../errors/index.js";
import type { Job, Slot } from "./slot.js";
import { ownBytes } from "./types.js";
import type { HostCallMsg, HostHandler, Invocation, VersionedValue } from "./types.js";

function isVersioned(v: unknown): v is VersionedValue {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) return false;
  const o = v as Record<string, unknown>;
  return typeof o.version === "string" && (o.bytes === undefined || o.bytes instanceof Uint8Array);
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
  if (c.timeoutMs !== undefined && !(c.timeoutMs > 0)) {
    return InvalidArgumentError.field("code.timeoutMs", "must be > 0");
  }
  if (!Array.isArray(call.args) || !call.args.every((a) => a instanceof Uint8Array)) {
    return InvalidArgumentError.field("args", "must be an array of Uint8Array (encodeValue)");
  }
  return undefined;
}

/**
 * A host call from user code: checks that it comes from the worker's running call (the head of
 * its in-flight list), asks the host, and posts the answer back to the worker.
 */
export function answerHostCall(slot: Slot, m: HostCallMsg, host: HostHandler): void {
  const job = slot.inflight.peek();
  if (job === undefined || job.call.id !== m.inv) {
    const err = new FunctionError(`ctx of invocation ${m.inv} was used after it returned`);
    slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(err) });
    return;
  }
  const { call } = job;
  const info = (job.info ??= { id: call.id, run: call.run, fn: call.code.name });
  let p: Promise<unknown>;
  try {
    p = host(m.op, m.a, info);
  } catch (e) {
    p = Promise.reject(ensureError(e));
  }
  if (m.seq === 0) {
    // Nobody waits for this one (ctx.send): a failure has no one to reach.
    p.catch(() => undefined);
    return;
  }
  p.then(
    (v) => {
      if (m.op === "get" && isVersioned(v)) {
        const out: VersionedValue = { version: v.version };
        if (v.bytes !== undefined) out.bytes = ownBytes(v.bytes);
        slot.post({ t: "res", seq: m.seq, ok: true, v: out });
        return;
      }
      // Only bytes (or nothing) go back: anything else could fail to clone and lose the batch.
      const bytes = m.op === "get" || m.op === "call" || m.op === "getLattice";
      if (bytes && v !== undefined && !(v instanceof Uint8Array)) {
        const bad = new StratusError("INTERNAL", `host ${m.op} returned a non-bytes value`);
        slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(bad) });
      } else {
        const out = bytes && v !== undefined ? ownBytes(v as Uint8Array) : undefined;
        slot.post({ t: "res", seq: m.seq, ok: true, v: out });
      }
    },
    (e) => slot.post({ t: "res", seq: m.seq, ok: false, e: toWireError(e) }),
  );
}

/** The error of a call whose worker was killed for exceeding its time limit. */
export function timeoutError(job: Job): Error {
  const fn = job.call.code.name;
  return new FunctionTimeoutError(`function ${fn} exceeded its time limit of ${job.timeoutMs} ms`, {
    details: { function: fn, timeoutMs: job.timeoutMs },
  });
}

/** The error of the call that was running when its worker exited on its own: OOM or a crash. */
export function lostWorkerError(slot: Slot, heapMb: number | undefined): Error {
  const fn = slot.inflight.peek()?.call.code.name ?? "(none)";
  const e: (Error & { code?: unknown }) | undefined = slot.exitError;
  if (e?.code === "ERR_WORKER_OUT_OF_MEMORY") {
    return new FunctionOomError(`function ${fn} exceeded its memory limit of ${heapMb} MB`, {
      details: { function: fn, maxOldGenerationSizeMb: heapMb },
    });
  }
  const why = e?.message ?? `exit code ${slot.exitCode}`;
  return new StratusError("INTERNAL", `executor worker crashed while running ${fn}: ${why}`, {
    details: { function: fn },
  });
}

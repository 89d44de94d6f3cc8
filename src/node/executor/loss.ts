/**
 * A lost worker's calls: which fail, with which error, and which go back to the queue. A worker
 * is lost when it is killed for a call that ignored its abort past the grace period, runs out of
 * memory, or crashes; the calls running beside the one to blame did nothing wrong.
 */
import { FunctionOomError, StratusError } from "../../errors/index.js";
import type { Job } from "./job.js";
import type { Slot } from "./slot.js";
import { EXTERNAL_OOM_EXIT } from "./memory.js";

/** What became of a lost worker's calls: the ones to queue again, and how many failed. */
export interface Lost {
  requeue: Job[];
  failed: number;
}

/**
 * Fails the started calls of a lost worker: with `err` when no one call is to blame, else the
 * `culprit` (answered already) and the others with a retryable error naming it. The calls posted
 * and not started go back, and so does one beside a culprit that asked nothing of its node (a
 * stuck worker takes no messages: it may never have started; if it did, a relaunch would run it
 * again too). A chain's later calls go back only with their head; without it their input is lost.
 */
export function sortLost(jobs: readonly Job[], err: Error, culprit?: Job): Lost {
  const requeue: Job[] = [];
  const back = new Set<Job>();
  let failed = 0;
  for (const j of jobs) {
    const unseen =
      culprit !== undefined && j !== culprit && j.info === undefined && j.abandoned === undefined;
    if (j.started === true && !unseen) {
      failed++;
      j.reject(culprit === undefined || j === culprit ? err : sharedLossError(j, culprit));
    } else if (j.upstream === undefined) {
      requeue.push(j);
      back.add(j);
    } else if (back.has(j.upstream)) back.add(j);
    else j.reject(chainBroken(j, err));
  }
  return { requeue, failed };
}

/**
 * The error of the calls that were running when their worker exited on its own: OOM or a crash.
 * With several running, the worker cannot tell which one did it: each gets this error, retryable
 * (a call beside the culprit did nothing wrong; the culprit fails again when retried).
 */
export function lostWorkerError(slot: Slot, heapMb: number | undefined, externalMb: number): Error {
  const names = new Set<string>();
  let running = 0;
  for (const j of slot.posted) {
    if (j.started !== true) continue;
    running++;
    names.add(j.call.code.name);
  }
  const fn = names.size === 0 ? "(none)" : [...names].join(", ");
  const shared = running > 1;
  const which = shared ? ` (one of ${running} invocations sharing its executor)` : "";
  const retryable = shared ? { retryable: true } : {};
  if (slot.exitCode === EXTERNAL_OOM_EXIT) {
    return new FunctionOomError(
      `function ${fn} exceeded its memory limit of ${externalMb} MB of external memory (Buffers, ArrayBuffers, typed arrays)${which}`,
      { ...retryable, details: { function: fn, maxExternalMemoryMb: externalMb } },
    );
  }
  const e: (Error & { code?: unknown }) | undefined = slot.exitError;
  if (e?.code === "ERR_WORKER_OUT_OF_MEMORY") {
    return new FunctionOomError(
      `function ${fn} exceeded its memory limit of ${heapMb} MB${which}`,
      {
        ...retryable,
        details: { function: fn, maxOldGenerationSizeMb: heapMb },
      },
    );
  }
  const why = e?.message ?? `exit code ${slot.exitCode}`;
  return new StratusError(
    "INTERNAL",
    `executor worker crashed while running ${fn}: ${why}${which}`,
    {
      ...retryable,
      details: { function: fn },
    },
  );
}

/**
 * The error of a call that was running beside `culprit` in a worker terminated because the
 * culprit ignored its abort past the grace period: retryable, since this call did nothing wrong.
 */
export function sharedLossError(job: Job, culprit: Job): Error {
  const fn = job.call.code.name;
  const other = culprit.call.code.name;
  return new StratusError(
    "INTERNAL",
    `function ${fn} was stopped: its executor was terminated because invocation ${culprit.call.id} of ${other}, running in the same executor, ignored its abort`,
    { retryable: true, details: { function: fn, cause: culprit.call.id } },
  );
}

/** The error of a chained call whose upstream call was lost with its worker. */
export function chainBroken(job: Job, cause: Error): Error {
  return new StratusError(
    "INTERNAL",
    `function ${job.call.code.name} did not run: the call before it in its chain was lost (${cause.message})`,
    { retryable: true },
  );
}

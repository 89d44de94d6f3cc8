/**
 * A `console.*` line a worker posted, as the pool hands it on: checked first, since user code can
 * reach the worker's port and post anything.
 */
import { MAX_LOG_LINE } from "./types.js";
import type { LogMsg, WorkerLogLine, WorkerLogObserver } from "./types.js";

/**
 * Hands a worker's console line to `observer`, with the run of the invocation that wrote it when
 * `runOf` knows it. An observer that throws costs only the line.
 *
 * @example
 * ```ts
 * forwardLogLine(msg, (line) => buffer.push(line), (inv) => jobs.get(inv)?.call.run);
 * ```
 */
export function forwardLogLine(
  m: LogMsg,
  observer: WorkerLogObserver | undefined,
  runOf: (inv: string) => unknown,
): void {
  if (observer === undefined || typeof m.m !== "string") return;
  const level = m.l === "debug" || m.l === "warn" || m.l === "error" ? m.l : "info";
  const line: WorkerLogLine = { level, message: m.m.slice(0, MAX_LOG_LINE + 64) };
  if (typeof m.inv === "string" && typeof m.fn === "string") {
    line.inv = m.inv;
    line.fn = m.fn;
    const run = runOf(m.inv);
    if (run !== undefined) line.run = run;
  }
  try {
    observer(line);
  } catch {
    // An observer's failure is not the worker's.
  }
}

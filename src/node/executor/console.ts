/**
 * `console.*` inside a worker: each line is posted to the main thread with the invocation that
 * wrote it, so the node can keep it with its function, run and node. A worker may run several
 * invocations at once (their awaits interleave), so "the one running" is no answer: the
 * invocation is the one whose async context the line was written in (AsyncLocalStorage), which
 * follows awaits, timers and callbacks started by that invocation.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { formatWithOptions } from "node:util";
import { MAX_LOG_LINE } from "./types.js";
import type { ConsoleLevel, LogMsg } from "./types.js";

/** The invocation a line belongs to. */
interface Scope {
  inv: string;
  fn: string;
}

const LEVELS: readonly [method: string, level: ConsoleLevel][] = [
  ["log", "info"],
  ["info", "info"],
  ["debug", "debug"],
  ["trace", "debug"],
  ["dir", "info"],
  ["warn", "warn"],
  ["error", "error"],
];

/**
 * Lines one worker posts per second at most: a function logging in a tight loop must not flood
 * the main thread's message queue (the node's buffer keeps 10,000 lines in all). Past it, lines
 * are dropped and counted, and the next second's first line says how many.
 */
export const MAX_LOG_LINES_PER_SECOND = 1000;

/**
 * Captures a worker's console. `run` starts an invocation in its own scope; lines written
 * outside any (a module's top level, a stray timer of code compiled earlier) carry no invocation.
 *
 * @example
 * ```ts
 * const capture = new ConsoleCapture((m) => port.postMessage(m));
 * capture.install(console);
 * capture.run("n1.7", "inc", fn, ctx, 1); // its console.log lines name n1.7 and inc
 * ```
 */
export class ConsoleCapture {
  private readonly scopes = new AsyncLocalStorage<Scope>();
  private windowStart = -Infinity;
  private inWindow = 0;
  private dropped = 0;

  constructor(
    private readonly post: (m: LogMsg) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Replaces the console's writing methods; nothing reaches the worker's stdout any more. */
  install(c: Console): void {
    const target = c as unknown as Record<string, unknown>;
    for (const [method, level] of LEVELS) {
      target[method] = (...args: unknown[]): void => this.write(level, args);
    }
  }

  /** Calls `f(...args)` in invocation `inv`'s scope. */
  run<A extends unknown[], R>(inv: string, fn: string, f: (...args: A) => R, ...args: A): R {
    return this.scopes.run({ inv, fn }, f, ...args);
  }

  private write(l: ConsoleLevel, args: unknown[]): void {
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.inWindow = 0;
      if (this.dropped > 0) {
        const n = this.dropped;
        this.dropped = 0;
        this.send({
          t: "log",
          l: "warn",
          m: `(${n} console lines dropped: over ${MAX_LOG_LINES_PER_SECOND} a second)`,
        });
      }
    }
    if (this.inWindow >= MAX_LOG_LINES_PER_SECOND) {
      this.dropped++;
      return;
    }
    this.inWindow++;
    let m: string;
    try {
      m = formatWithOptions({ depth: 4, breakLength: Infinity }, ...args);
    } catch {
      // A Proxy or a getter that throws: the line says so rather than failing the caller.
      m = "(a value that cannot be printed)";
    }
    if (m.length > MAX_LOG_LINE) m = `${m.slice(0, MAX_LOG_LINE)}… (${m.length} chars)`;
    const scope = this.scopes.getStore();
    const msg: LogMsg = { t: "log", l, m };
    if (scope !== undefined) {
      msg.inv = scope.inv;
      msg.fn = scope.fn;
    }
    this.send(msg);
  }

  private send(msg: LogMsg): void {
    try {
      this.post(msg);
    } catch {
      // Over the worker's memory limit (the guard in post) or closing: the line is lost, the
      // function goes on.
    }
  }
}

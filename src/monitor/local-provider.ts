import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { InvalidArgumentError, StratusError } from "../errors/index.js";
import type { NodeProvider } from "./provider.js";

/** Options of {@link LocalNodeProvider}. */
export interface LocalNodeProviderOptions {
  /**
   * The argv that runs the `stratus` CLI, e.g. `[process.execPath, "dist/cli/main.js"]`; the
   * provider appends `node --join <join> …args`.
   */
  command: string[];
  /**
   * A scheduler's address the nodes join through, or a function that tells it when a node starts
   * (a scheduler that runs the provider knows its own address only once it listens).
   */
  join: string | (() => string);
  /** More flags for `stratus node` (e.g. `["--executors", "2"]`). @default [] */
  args?: string[];
  /**
   * The nodes' environment: the cluster token goes here (`STRATUS_TOKEN`), out of `ps`, and the
   * store password as `STRATUS_STORE_PASSWORD` when the store needs one. @default {}
   */
  env?: Record<string, string>;
  /** A node that has not said it joined within this long is stopped and the scale-up fails. @default 30000 */
  readyTimeoutMs?: number;
  /** Receives nodes' unexpected exits. @default ignore */
  log?: (message: string) => void;
}

interface Started {
  proc: ChildProcess;
  /** Resolves with the node's id once it printed that it joined. */
  ready: Promise<string>;
  id?: string;
}

const JOINED = /node (\S+) joined at \S+/;

/**
 * Runs nodes as `stratus node --join …` child processes of this one: `scale(n)` starts new ones
 * (resolving once each has joined) or stops the newest with SIGTERM (a node drains its heartbeat
 * and executors on SIGTERM). `close()` stops them all.
 *
 * @example
 * ```ts
 * const p = new LocalNodeProvider({
 *   command: [process.execPath, "dist/cli/main.js"],
 *   join: "stratus://127.0.0.1:7400",
 *   env: { STRATUS_TOKEN: token },
 * });
 * await p.scale(1); // one more node joined
 * ```
 */
export class LocalNodeProvider implements NodeProvider {
  readonly name = "local";
  private readonly nodes: Started[] = [];
  private readonly readyTimeoutMs: number;
  private closed = false;

  constructor(private readonly o: LocalNodeProviderOptions) {
    if (!Array.isArray(o.command) || o.command.length === 0) {
      throw InvalidArgumentError.field("command", "must be the argv of the stratus CLI");
    }
    if (typeof o.join !== "function" && (typeof o.join !== "string" || o.join.length === 0)) {
      throw InvalidArgumentError.field("join", "must be a scheduler address");
    }
    this.readyTimeoutMs = o.readyTimeoutMs ?? 30_000;
  }

  /** Ids of the nodes that have joined (in start order). */
  get ids(): string[] {
    return this.nodes.flatMap((n) => (n.id === undefined ? [] : [n.id]));
  }

  current(): Promise<number> {
    return Promise.resolve(this.nodes.length);
  }

  async scale(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0)
      throw InvalidArgumentError.field("n", "must be an integer ≥ 0");
    if (this.closed) return;
    const fresh: Started[] = [];
    while (this.nodes.length < n) {
      const s = this.start();
      this.nodes.push(s);
      fresh.push(s);
    }
    const stopping: Promise<void>[] = [];
    while (this.nodes.length > n) stopping.push(stop(this.nodes.pop()!));
    await Promise.all([...fresh.map((s) => s.ready), ...stopping]);
  }

  private start(): Started {
    const [cmd, ...pre] = this.o.command as [string, ...string[]];
    const join = typeof this.o.join === "function" ? this.o.join() : this.o.join;
    const proc = spawn(cmd, [...pre, "node", "--join", join, ...(this.o.args ?? [])], {
      env: { ...this.o.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    const s: Started = {
      proc,
      ready: new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.kill("SIGKILL");
          reject(
            new StratusError(
              "TIMEOUT",
              `a local node did not join within ${this.readyTimeoutMs} ms`,
            ),
          );
        }, this.readyTimeoutMs);
        proc.stdout?.on("data", (d: Buffer) => {
          if (s.id !== undefined) return;
          out = (out + d.toString()).slice(-4000);
          const m = JOINED.exec(out);
          if (m === null) return;
          clearTimeout(timer);
          const id = m[1] ?? "";
          s.id = id;
          resolve(id);
        });
        proc.once("exit", (code, signal) => {
          clearTimeout(timer);
          const i = this.nodes.indexOf(s);
          if (i >= 0) {
            // Not stopped by us: forget it, so current() tells the monitor a node is missing.
            this.nodes.splice(i, 1);
            this.o.log?.(
              `local node ${s.id ?? "(starting)"} exited (${code ?? signal}): ${err.trim().slice(-500)}`,
            );
          }
          reject(
            new StratusError(
              "INTERNAL",
              `a local node exited (${code ?? signal}) before it joined: ${err.trim().slice(-500)}`,
            ),
          );
        });
      }),
    };
    s.ready.catch(() => undefined);
    return s;
  }

  /** Stops every node it started. */
  async close(): Promise<void> {
    this.closed = true;
    const all = this.nodes.splice(0);
    await Promise.all(all.map(stop));
  }
}

function stop(s: Started): Promise<void> {
  const { proc } = s;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // A node that does not stop on SIGTERM within 10 s is killed.
    const kill = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    proc.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}

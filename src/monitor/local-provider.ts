import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
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
  /**
   * Ids of the cluster's live nodes (from membership). Nodes this provider starts get ids that
   * begin with `idPrefix`, and every live node with such an id counts in {@link current}, not
   * only this provider's own: a scheduler that takes the autoscaler's lease over from another
   * counts the nodes the other started instead of starting `minNodes` more.
   * @default only this provider's own nodes count
   */
  members?: () => Iterable<string> | Promise<Iterable<string>>;
  /** How the ids of provider-started nodes begin. @default "auto-" */
  idPrefix?: string;
}

interface Started {
  proc: ChildProcess;
  /** Resolves with the node's id once it printed that it joined. */
  ready: Promise<string>;
  /** The id it was given. */
  given: string;
  /** Its id once it joined. */
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
  private readonly idPrefix: string;
  private closed = false;

  constructor(private readonly o: LocalNodeProviderOptions) {
    if (!Array.isArray(o.command) || o.command.length === 0) {
      throw InvalidArgumentError.field("command", "must be the argv of the stratus CLI");
    }
    if (typeof o.join !== "function" && (typeof o.join !== "string" || o.join.length === 0)) {
      throw InvalidArgumentError.field("join", "must be a scheduler address");
    }
    this.readyTimeoutMs = o.readyTimeoutMs ?? 30_000;
    this.idPrefix = o.idPrefix ?? "auto-";
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(this.idPrefix)) {
      throw InvalidArgumentError.field("idPrefix", "must be 1-32 letters, digits, _ . -");
    }
  }

  /** Ids of the nodes that have joined (in start order). */
  get ids(): string[] {
    return this.nodes.flatMap((n) => (n.id === undefined ? [] : [n.id]));
  }

  /** Provider-started nodes: this provider's own (joined or starting) and any live in membership. */
  async current(): Promise<number> {
    const ids = new Set(this.nodes.map((n) => n.given));
    if (this.o.members !== undefined) {
      for (const id of await this.o.members()) if (id.startsWith(this.idPrefix)) ids.add(id);
    }
    return ids.size;
  }

  /**
   * Starts nodes until {@link current} is `n`, or stops its own newest until it is (nodes another
   * provider started are left to it).
   */
  async scale(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0)
      throw InvalidArgumentError.field("n", "must be an integer ≥ 0");
    if (this.closed) return;
    let count = await this.current();
    const fresh: Started[] = [];
    for (; count < n; count++) {
      const s = this.start();
      this.nodes.push(s);
      fresh.push(s);
    }
    const stopping: Promise<void>[] = [];
    for (; count > n && this.nodes.length > 0; count--) stopping.push(stop(this.nodes.pop()!));
    await Promise.all([...fresh.map((s) => s.ready), ...stopping]);
  }

  private start(): Started {
    const [cmd, ...pre] = this.o.command as [string, ...string[]];
    const join = typeof this.o.join === "function" ? this.o.join() : this.o.join;
    const given = this.idPrefix + randomBytes(4).toString("hex");
    const argv = [...pre, "node", "--join", join, "--id", given, ...(this.o.args ?? [])];
    const proc = spawn(cmd, argv, {
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
      given,
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

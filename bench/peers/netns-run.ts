/**
 * Runs a TypeScript script (through tsx) inside a fresh private network namespace (`unshare -n`,
 * only loopback up), so peers' servers started there can neither bind a public interface nor
 * reach the network. The script prints one line `<prefix> <json>` on stdout with its result;
 * its stderr lines are passed to `log`. The child leads its own process group, and the whole group
 * is killed when the run ends, fails, times out or this process is interrupted.
 *
 * @example
 * ```ts
 * const metrics = await runInNetns<Record<string, number>>({
 *   script: "bench/state/netns.ts", args: ["--quick"], prefix: "STATE_RESULT",
 *   timeoutMs: 120_000, log: ctx.log });
 * ```
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

export interface NetnsRunOptions {
  /** Path of the script, absolute or relative to the repository root. */
  script: string;
  args: string[];
  /** The result line's first word. */
  prefix: string;
  timeoutMs: number;
  log: (line: string) => void;
}

const root = join(import.meta.dirname, "..", "..");

export function runInNetns<T>(o: NetnsRunOptions): Promise<T> {
  // As root `unshare -n` suffices; otherwise a user namespace (`-r`) grants the right to make one.
  const unshare = process.getuid?.() === 0 ? ["-n"] : ["-r", "-n"];
  const argv = [
    ...unshare,
    "sh",
    "-c",
    'ip link set lo up && exec "$0" "$@"',
    process.execPath,
    "--import",
    "tsx",
    o.script,
    ...o.args,
  ];
  const child = spawn("unshare", argv, {
    cwd: root,
    detached: true, // its own process group: everything it starts dies with it
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    killGroup();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.on("exit", killGroup);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let stdout = "";
  let stderrTail = "";
  let partial = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    const text = d.toString();
    stderrTail = (stderrTail + text).slice(-6000);
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") o.log(line);
  });

  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(); // the leader's exit, below, then reports the timeout
    }, o.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run unshare (util-linux): ${err.message}`));
    });
    child.on("exit", (code, sig) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith(`${o.prefix} `));
      if (timedOut) {
        reject(
          new Error(
            `${o.script}: timed out after ${o.timeoutMs / 1000} s and was killed with all it ` +
              `started. Last output:\n${stderrTail}`,
          ),
        );
      } else if (code === 0 && line !== undefined) {
        resolve(JSON.parse(line.slice(o.prefix.length + 1)) as T);
      } else {
        const hint = /unshare|Operation not permitted/.test(stderrTail)
          ? "\n(unshare -n needs root or unprivileged user namespaces)"
          : "";
        reject(new Error(`${o.script} failed (${code ?? sig}):\n${stderrTail}${hint}`));
      }
    });
  }).finally(() => {
    killGroup();
    process.off("exit", killGroup);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
}

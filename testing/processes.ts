/**
 * Child processes for tests and benchmarks: `stratus` commands and small fixtures, run through tsx, each
 * resolved once it prints the line that says it is ready.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");

/** Runs `stratus <args>` (the CLI from source) and waits for `ready` on stdout. */
export function startStratus(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  wrapper: string[] = [],
  signal?: AbortSignal,
): Promise<Child> {
  return startTs("src/cli/main.ts", args, ready, env, wrapper, signal);
}

export interface Child {
  proc: ChildProcess;
  /** The first capture group of the ready pattern. */
  ready: string;
  stop(): Promise<void>;
}

/** Runs a TypeScript file with tsx and waits until its stdout matches `ready`. */
export function startTs(
  file: string,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  /** A command that runs the process, e.g. `["ip", "netns", "exec", "hostA"]`. */
  wrapper: string[] = [],
  /** Aborting it SIGKILLs the process (one still starting rejects). */
  signal?: AbortSignal,
): Promise<Child> {
  const argv = [...wrapper, process.execPath, "--import", "tsx", join(root, file), ...args];
  const proc = spawn(argv[0] as string, argv.slice(1), {
    cwd: root,
    env: { ...process.env, STRATUS_HOME: mkdtempSync(join(tmpdir(), "stratus-home-")), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(signal && { signal, killSignal: "SIGKILL" as const }),
  });
  let out = "";
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    // A failed spawn, or an abort (`signal`), after which the process is gone.
    proc.on("error", reject);
    proc.on("exit", (code) =>
      reject(new Error(`${file} exited (${code}) before it was ready:\n${err}`)),
    );
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        proc.removeAllListeners("exit");
        resolve({
          proc,
          ready: m[1] ?? "",
          stop: () =>
            new Promise<void>((r) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return r();
              proc.once("exit", () => r());
              proc.kill("SIGTERM");
            }),
        });
      }
    });
  });
}

/** `stratus up` with the given flags; resolves with its URL and token. */
export async function stratusUp(flags: string[]): Promise<Child & { url: string; token: string }> {
  const token = "bench-token";
  const c = await startTs(
    "src/cli/main.ts",
    ["up", "--token", token, ...flags],
    /Stratus is up at (\S+)\n/,
  );
  return { ...c, url: c.ready, token };
}

/**
 * Re-checks `cond` every 25 ms until it holds (cluster state such as membership has no event a
 * test can wait on); rejects after `timeoutMs`. Resolves with how long it waited.
 */
export async function until(
  cond: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - t0;
}

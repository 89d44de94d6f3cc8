/**
 * `npm run bench -- all [--quick]`: every benchmark, one child process each (so one cannot leave
 * timers, sockets or servers behind for the next), under a progress bar, then the report.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SingleBar } from "cli-progress";

export interface RunAllResult {
  failed: string[];
  logDir: string;
}

/** Runs each benchmark with `bench/run.ts <name>`; a failure is noted and the rest still run. */
export async function runAll(
  names: string[],
  quick: boolean,
  runner: string,
): Promise<RunAllResult> {
  const logDir = mkdtempSync(join(tmpdir(), "stratus-bench-"));
  const bar = new SingleBar({
    format: "{bar} {value}/{total} benchmarks | {name} | {duration}s elapsed | {last}",
    barsize: 30,
    hideCursor: true,
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 10_000,
  });
  bar.start(names.length, 0, { name: names[0] ?? "", last: "" });
  const failed: string[] = [];
  for (const name of names) {
    bar.update({ name, last: "starting" });
    const ok = await runOne(name, quick, runner, logDir, (line) =>
      bar.update({ name, last: line.slice(0, 60) }),
    );
    if (!ok) failed.push(name);
    bar.increment(1, { name, last: ok ? "done" : "FAILED" });
  }
  bar.stop();
  return { failed, logDir };
}

function runOne(
  name: string,
  quick: boolean,
  runner: string,
  logDir: string,
  onLine: (line: string) => void,
): Promise<boolean> {
  const log = createWriteStream(join(logDir, `${name}.log`));
  const args = ["--import", "tsx", runner, name, ...(quick ? ["--quick"] : [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log, { end: false });
  child.stderr.on("data", (d: Buffer) => {
    log.write(d);
    const last = d.toString().trim().split("\n").pop();
    if (last !== undefined && last.length > 0) onLine(last);
  });
  return new Promise((resolve) => {
    child.on("close", (code) => {
      log.end();
      resolve(code === 0);
    });
  });
}

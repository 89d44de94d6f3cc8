/**
 * `stratus logs [fn] [--run id] [-f]`: the console lines functions wrote, read from the live
 * nodes through a scheduler. With `-f` it asks again every `--interval` ms for the lines past the
 * last one it printed from each node, until interrupted.
 */
import type { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import type { FunctionLogLine, LogQuery, Stratus } from "../../client/index.js";
import { client, int, withFlags } from "../flags.js";
import type { ClientFlags } from "../flags.js";

interface LogsFlags extends ClientFlags {
  run?: string;
  follow?: true;
  json?: true;
  interval: number;
}

/**
 * One line as `stratus logs` prints it: time, node, function, run, level, text.
 *
 * @example
 * ```ts
 * formatLogLine(line); // "2026-12-07T18:40:01.123Z n1 inc run=r1 INFO hello"
 * ```
 */
export function formatLogLine(l: FunctionLogLine): string {
  const run = l.run === undefined ? "" : ` run=${l.run}`;
  return `${new Date(l.ts).toISOString()} ${l.node} ${l.fn ?? "-"}${run} ${l.level.toUpperCase()} ${l.msg}`;
}

/** Registers `logs` on `program`; `withCloud` connects as the flags say. */
export function logsCommand(
  program: Command,
  withCloud: <T>(o: ClientFlags, fn: (c: Stratus) => Promise<T>) => Promise<T>,
): void {
  withFlags(
    program
      .command("logs [fn]")
      .description("console lines of functions, as the nodes keep them (newest age out first)")
      .option("--run <id>", "only this run's lines")
      .option("-f, --follow", "keep printing new lines until interrupted")
      .option("--json", "one JSON object a line")
      .option("--interval <ms>", "with -f: how often to ask for new lines", int, 500),
    client,
  ).action(async (fn: string | undefined, o: LogsFlags) => {
    const q: LogQuery = {};
    if (fn !== undefined) q.fn = fn;
    if (o.run !== undefined) q.run = o.run;
    const print = (l: FunctionLogLine): void =>
      void process.stdout.write((o.json === true ? JSON.stringify(l) : formatLogLine(l)) + "\n");
    await withCloud(o, async (cloud) => {
      const after: Record<string, number> = {};
      const warned = new Set<string>();
      for (;;) {
        const r = await cloud.logs({ ...q, after });
        for (const l of r.lines) {
          print(l);
          after[l.node] = Math.max(after[l.node] ?? 0, l.seq);
        }
        for (const n of r.unreachable) {
          if (!warned.has(n)) process.stderr.write(`stratus logs: node ${n} did not answer\n`);
          warned.add(n);
        }
        if (o.follow !== true) return;
        await sleep(Math.max(50, o.interval));
      }
    });
  });
}

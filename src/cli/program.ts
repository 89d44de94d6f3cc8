/**
 * The `stratus` program: every command, and the `--config` file applied before a command runs.
 * Building it has no side effect, so a test can build one and inspect or parse it in process.
 */
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { CONFIG_COMMANDS, applyConfigFile } from "./config-file.js";
import { adminCommands } from "./commands/admin.js";
import { clientCommands } from "./commands/client.js";
import { serveCommands } from "./commands/serve.js";
import type { CliOutput } from "./log.js";

/**
 * The `stratus` command line, its output going through `out`.
 *
 * @example
 * ```ts
 * const program = buildProgram(cliOutput());
 * program.commands.map((c) => c.name()); // ["up", "node", "scheduler", "deploy", "call", …]
 * ```
 */
export function buildProgram(out: CliOutput): Command {
  const program = new Command()
    .name("stratus")
    .description("Stateful serverless functions with a cache next to every executor.")
    .version(packageVersion(), "-V, --version", "print the version of stratus")
    .showHelpAfterError();
  serveCommands(program, out);
  const dag = clientCommands(program, out);
  adminCommands(program, dag, out);
  // The config file fills in what the command line left out, before the command runs.
  program.hook("preAction", (_program, cmd) => {
    const file = cmd.opts().config as unknown;
    if (typeof file !== "string") return;
    const all = program.commands.filter((c) =>
      (CONFIG_COMMANDS as readonly string[]).includes(c.name()),
    );
    applyConfigFile(cmd, file, all);
  });
  return program;
}

/**
 * The installed package's version. package.json sits two folders up from this file both in the
 * sources (src/cli/) and in the build (dist/cli/).
 */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: unknown;
  };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}

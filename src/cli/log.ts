/**
 * What the CLI prints on stderr: pino log lines with every secret it was given scrubbed out, and
 * the process handlers that keep a serving process up when one message's handler fails.
 */
import { pino } from "pino";
import type { Logger } from "pino";
import { Redactor } from "./secrets.js";

/** The CLI's logger and the redactor its every stderr line goes through. */
export interface CliOutput {
  log: Logger;
  /** Every secret the CLI is given is added here, and nothing it prints on stderr carries one. */
  redactor: Redactor;
}

/**
 * A logger writing to stderr through a fresh redactor.
 *
 * @example
 * ```ts
 * const out = cliOutput();
 * out.redactor.add(token);
 * out.log.info({ url }, "up"); // the token, were it in the line, is printed as ***
 * ```
 */
export function cliOutput(): CliOutput {
  const redactor = new Redactor();
  const log = pino(
    { name: "stratus" },
    { write: (line: string) => void process.stderr.write(redactor.scrub(line)) },
  );
  return { log, redactor };
}

/**
 * A throw or rejection that escaped a handler costs that message, not the process and every run
 * in it: log it and keep serving.
 */
export function keepServingOnStrayErrors(log: Logger): void {
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
  process.on("uncaughtException", (err) => log.error({ err }, "uncaught exception"));
}

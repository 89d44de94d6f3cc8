#!/usr/bin/env node
/**
 * The `stratus` command. The CLI is the only part of Stratus that reads the environment
 * (STRATUS_URL, STRATUS_TOKEN, STRATUS_STORE_PASSWORD, STRATUS_HOME); everything below it takes
 * options. The commands are in commands/, their flags in flags.ts.
 */
import { isStratusError } from "../errors/index.js";
import { cliOutput, keepServingOnStrayErrors } from "./log.js";
import { buildProgram } from "./program.js";

const out = cliOutput();
keepServingOnStrayErrors(out.log);

buildProgram(out)
  .parseAsync()
  .catch((e: unknown) => {
    const msg = isStratusError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
    process.stderr.write(`stratus: ${out.redactor.scrub(msg)}\n`);
    process.exit(1);
  });

/**
 * The program built in process: every command is there, and the flags' defaults are the ones
 * the subsystems own (a default changed there shows in `--help` without being restated).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Command } from "commander";
import { buildProgram } from "../../src/cli/program.js";
import { cliOutput } from "../../src/cli/log.js";
import { PROCESS_DEFAULTS } from "../../src/cluster/index.js";
import { MONITOR_DEFAULTS } from "../../src/monitor/index.js";
import { POOL_DEFAULTS } from "../../src/node/index.js";
import { TXN_DEFAULTS } from "../../src/txn/index.js";

const program = buildProgram(cliOutput());
const command = (name: string): Command =>
  program.commands.find((c) => c.name() === name) ?? assert.fail(`no command ${name}`);
const defaultOf = (c: Command, flag: string): unknown =>
  (c.options.find((o) => o.long === flag) ?? assert.fail(`${c.name()} has no ${flag}`))
    .defaultValue;

describe("cli: the program", () => {
  it("has every command", () => {
    assert.deepEqual(
      program.commands.map((c) => c.name()),
      [
        "up",
        "node",
        "scheduler",
        "deploy",
        "call",
        "dag",
        "schedule",
        "unschedule",
        "schedules",
        "status",
        "logs",
        "fn",
        "kv",
        "dev",
        "runs",
      ],
    );
  });

  it("reads the flags' defaults from the subsystems that own them", () => {
    const owned: [string, string[], unknown][] = [
      ["--host", ["up", "node", "scheduler"], PROCESS_DEFAULTS.host],
      ["--port", ["up", "node", "scheduler"], PROCESS_DEFAULTS.port],
      ["--future-retention-ms", ["up", "node", "scheduler"], PROCESS_DEFAULTS.futureRetentionMs],
      ["--store", ["up"], PROCESS_DEFAULTS.store],
      ["--placement", ["up", "scheduler"], PROCESS_DEFAULTS.placement],
      ["--executors", ["up", "node"], PROCESS_DEFAULTS.executors],
      ["--max-retries", ["up", "node", "scheduler"], PROCESS_DEFAULTS.maxRetries],
      ["--max-timeout-ms", ["up", "node"], POOL_DEFAULTS.maxTimeoutMs],
      ["--timeout-ms", ["up", "node", "scheduler"], POOL_DEFAULTS.defaultTimeoutMs],
      ["--memory-mb", ["up", "node", "scheduler"], POOL_DEFAULTS.maxOldGenerationSizeMb],
      ["--max-txn-ms", ["up", "node", "scheduler"], TXN_DEFAULTS.maxTxnMs],
      ["--min-executors", ["up", "scheduler"], MONITOR_DEFAULTS.minExecutors],
      ["--max-executors", ["up", "scheduler"], MONITOR_DEFAULTS.maxExecutors],
      ["--scale-up-utilisation", ["up", "scheduler"], MONITOR_DEFAULTS.scaleUpUtilisation],
      ["--scale-up-queue-ms", ["up", "scheduler"], MONITOR_DEFAULTS.scaleUpQueueMs],
      ["--idle-grace-ms", ["up", "scheduler"], MONITOR_DEFAULTS.idleGraceMs],
      ["--min-nodes", ["up", "scheduler"], MONITOR_DEFAULTS.minNodes],
      ["--max-nodes", ["up", "scheduler"], MONITOR_DEFAULTS.maxNodes],
    ];
    for (const [flag, commands, value] of owned) {
      for (const name of commands) {
        assert.equal(defaultOf(command(name), flag), value, `${name} ${flag}`);
      }
    }
  });

  it("gives the scheduler no executors and the node no HTTP port", () => {
    assert.equal(
      command("scheduler").options.find((o) => o.long === "--executors"),
      undefined,
    );
    assert.equal(
      command("node").options.find((o) => o.long === "--http-port"),
      undefined,
    );
  });
});

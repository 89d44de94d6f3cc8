/**
 * `--config <file>`: the checks and precedence in process (commander commands shaped like the
 * CLI's), then the real `stratus` command reading a file: errors that name the field, and a file
 * whose options a process runs with, except where a flag overrides them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { Command } from "commander";
import { applyConfigFile, configFor } from "../../src/cli/config-file.js";
import { Stratus } from "../../src/index.js";
import { startStratus } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "stratus-config-"));
const int = (v: string): number => Number(v);

/** Commands with the same kinds of options as the CLI's up, scheduler and node. */
function commands(): Command[] {
  const common = (c: Command): Command =>
    c
      .option("--config <file>", "")
      .option("--host <host>", "", "127.0.0.1")
      .option("--port <port>", "", int, 0)
      .option("--token <token>", "")
      .option("--token-file <path>", "")
      .option("--tls-cert <file>", "");
  const up = common(new Command("up"))
    .option("--executors <n>", "", int, 4)
    .option("--no-fuse", "")
    .option("--demo", "")
    .option("--pin <fn=node>", "", (v: string, p: string[] = []) => [...p, v]);
  const scheduler = common(new Command("scheduler")).option("--store <address>", "");
  const node = common(new Command("node"))
    .option("--join <url>", "")
    .option("--executors <n>", "", int, 4);
  return [up, scheduler, node];
}

const pick = (cmds: Command[], name: string): Command =>
  cmds.find((c) => c.name() === name) ?? assert.fail(name);

describe("cli: config file checks", () => {
  it("takes top-level keys where the command has them, and its own section over them", () => {
    const cmds = commands();
    const config = {
      executors: 2,
      store: "redis://r:6379",
      "token-file": "secrets/token",
      node: { join: "stratus://s:7400", executors: 8 },
      up: { demo: true, fuse: false, pin: ["inc=n-1"] },
    };
    const node = configFor(config, pick(cmds, "node"), cmds, "/etc/stratus");
    assert.deepEqual(node, {
      executors: 8,
      tokenFile: "/etc/stratus/secrets/token",
      join: "stratus://s:7400",
    });
    const sched = configFor(config, pick(cmds, "scheduler"), cmds, "/etc/stratus");
    assert.deepEqual(sched, { store: "redis://r:6379", tokenFile: "/etc/stratus/secrets/token" });
    const up = configFor(config, pick(cmds, "up"), cmds, "/");
    assert.equal(up.executors, 2);
    assert.equal(up.fuse, false);
  });

  it("names the field of every mistake", () => {
    const cmds = commands();
    const fails = (config: Record<string, unknown>, message: RegExp): void => {
      assert.throws(() => configFor(config, pick(cmds, "up"), cmds, "/"), {
        code: "INVALID_ARGUMENT",
        message,
      });
    };
    fails({ executors: -1 }, /^config: executors must be a non-negative integer$/);
    fails({ node: { executors: "8" } }, /^config: node\.executors must be a non-negative integer$/);
    fails({ up: { demo: "yes" } }, /^config: up\.demo must be true or false$/);
    fails({ up: { join: "x" } }, /^config: up\.join is not an option of stratus up$/);
    fails({ prot: 1 }, /^config: prot is not an option \(did you mean port\?\)/);
    fails({ host: "" }, /^config: host must be a non-empty string$/);
    fails({ up: { pin: "inc" } }, /^config: up\.pin must be a list of "function=node-id"/);
    fails({ scheduler: [1] }, /^config: scheduler must be a mapping of options$/);
  });

  it("lets flags given on the command line win, a token flag included over a token file", () => {
    const cmds = commands();
    const up = pick(cmds, "up");
    const file = join(dir, "flags.yaml");
    writeFileSync(file, "port: 7400\nexecutors: 3\ntoken-file: t.txt\nhost: 0.0.0.0\n");
    up.parse(["--port", "9000", "--token", "flag-token"], { from: "user" });
    applyConfigFile(up, file, cmds);
    const o = up.opts();
    assert.equal(o.port, 9000, "flag wins");
    assert.equal(o.executors, 3, "file beats the default");
    assert.equal(o.host, "0.0.0.0");
    assert.equal(o.tokenFile, undefined, "--token drops the file's token-file");
    assert.equal(o.token, "flag-token");
  });

  it("refuses a file that is not YAML or not a mapping, naming the file", () => {
    const cmds = commands();
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "port: [1,\n");
    assert.throws(
      () => applyConfigFile(pick(cmds, "up"), bad, cmds),
      /config: .*bad\.yaml is not valid YAML/,
    );
    writeFileSync(bad, "- 1\n- 2\n");
    assert.throws(() => applyConfigFile(pick(cmds, "up"), bad, cmds), /must hold a mapping/);
  });
});

describe("cli: stratus up --config", () => {
  let up: Child | undefined;
  after(async () => {
    await up?.stop();
  });

  it("stops with the field named when the file is wrong", async () => {
    const file = join(dir, "wrong.yaml");
    writeFileSync(file, "up:\n  executors: many\n");
    const r = await run(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "up", "--config", file],
      { cwd: root, env: { ...process.env, STRATUS_HOME: dir } },
    ).then(
      () => assert.fail("stratus up started with a wrong config"),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /stratus: INVALID_ARGUMENT: config: up\.executors must be a non-negative integer/,
    );
  });

  it("runs with the file's options, a flag overriding one", async () => {
    writeFileSync(join(dir, "token"), "config-token\n");
    const file = join(dir, "stratus.yaml");
    writeFileSync(
      file,
      ["token-file: token", "id: from-config", "http-port: 0", "up:", "  executors: 3", ""].join(
        "\n",
      ),
    );
    up = await startStratus(
      ["up", "--config", file, "--executors", "1"],
      /(Stratus is up at \S+\n[\s\S]*http: \S+)\n/,
      { STRATUS_HOME: dir },
    );
    const url = /Stratus is up at (\S+)/.exec(up.ready)?.[1] ?? assert.fail(up.ready);
    assert.match(up.ready, /token: \(from --token-file\)/);
    const cloud = await Stratus.connect(url, { token: "config-token" });
    try {
      const status = (await cloud.status()) as { nodes: { id: string; executors: number }[] };
      assert.deepEqual(
        status.nodes.map((n) => [n.id, n.executors]),
        [["from-config", 1]],
      );
    } finally {
      await cloud.close();
    }
  });
});

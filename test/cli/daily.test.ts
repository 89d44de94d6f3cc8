/**
 * The daily commands, run as a user runs them (the CLI in a child process) against a real
 * cluster: --version, fn/dag list|describe|rm, kv get|put|merge|rm, runs cancel and dev.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Stratus, isStratusError } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { startStratus } from "../../testing/processes.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("cli: daily commands", () => {
  const token = "daily-token";
  let proc: StratusProcess;
  let cloud: Stratus;
  let dir: string;
  let home: string;

  /** `stratus <args>` against the cluster: its exit code, stdout and stderr. */
  async function stratus(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const argv = ["--import", "tsx", join(root, "src/cli/main.ts"), ...args];
    const env = { ...process.env, STRATUS_URL: proc.url, STRATUS_TOKEN: token, STRATUS_HOME: home };
    return run(process.execPath, argv, { cwd: root, env }).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout, err: stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? -1,
        out: e.stdout ?? "",
        err: e.stderr ?? "",
      }),
    );
  }
  const json = (r: { code: number; out: string; err: string }): unknown => {
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as unknown;
  };

  before(async () => {
    proc = await StratusProcess.start({ token, executors: 2 });
    cloud = await Stratus.connect(proc.url, { token });
    await cloud.register("inc", (_ctx, x: number) => x + 1);
    await cloud.register("square", (_ctx, x: number) => x * x);
    await cloud.registerDag("pipeline", {
      functions: ["inc", "square"],
      edges: [["inc", "square"]],
    });
    dir = await mkdtemp(join(tmpdir(), "stratus-daily-"));
    home = await mkdtemp(join(tmpdir(), "stratus-daily-home-"));
  });
  after(async () => {
    await cloud.close();
    await proc.close();
    await rm(dir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  it("prints its version", async () => {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
      version: string;
    };
    const r = await stratus("--version");
    assert.equal(r.out.trim(), pkg.version);
  });

  it("lists, describes and removes functions and DAGs", async () => {
    const fns = json(await stratus("fn", "list", "--json")) as { name: string }[];
    assert.deepEqual(
      fns.map((f) => f.name),
      ["inc", "square"],
    );
    const described = json(await stratus("fn", "describe", "inc")) as Record<string, unknown>;
    assert.equal(described.name, "inc");
    assert.deepEqual(described.dags, ["pipeline"]);
    assert.match((await stratus("dag", "list")).out, /^pipeline {2}inc->square$/m);
    const dag = json(await stratus("dag", "describe", "pipeline")) as Record<string, unknown>;
    assert.deepEqual(dag.edges, [["inc", "square"]]);

    const inUse = await stratus("fn", "rm", "square");
    assert.equal(inUse.code, 1);
    assert.match(inUse.err, /INVALID_ARGUMENT: function square is used by DAG pipeline/);
    assert.deepEqual(json(await stratus("dag", "rm", "pipeline")), { removed: true });
    assert.deepEqual(json(await stratus("fn", "rm", "square")), { removed: true });
    await assert.rejects(
      cloud.call("square", [2]),
      (e) => isStratusError(e) && e.code === "NO_SUCH_FUNCTION",
    );
    assert.deepEqual(
      (json(await stratus("fn", "list", "--json")) as { name: string }[]).map((f) => f.name),
      ["inc"],
    );
    const again = await stratus("fn", "rm", "square");
    assert.equal(again.code, 1);
    assert.match(again.err, /NOT_FOUND/);
    // A DAG is still run by name.
    await cloud.register("square", (_ctx, x: number) => x * x);
    await cloud.registerDag("pipeline", {
      functions: ["inc", "square"],
      edges: [["inc", "square"]],
    });
    assert.equal(json(await stratus("dag", "pipeline", '{"inc": [2]}')), 9);
  });

  it("reads, writes, merges and removes keys", async () => {
    assert.deepEqual(json(await stratus("kv", "put", "visits/home", '{"n": 3}')), { ok: true });
    assert.deepEqual(json(await stratus("kv", "get", "visits/home")), { value: { n: 3 } });
    await stratus("kv", "merge", "hits", "--counter", "2");
    await stratus("kv", "merge", "hits", "--counter", "3");
    assert.deepEqual(json(await stratus("kv", "get", "hits")), { value: 5 });
    const two = await stratus("kv", "merge", "hits", "--counter", "1", "--max", "3");
    assert.equal(two.code, 1);
    assert.match(two.err, /exactly one of --counter, --set, --max, --min/);
    assert.deepEqual(json(await stratus("kv", "rm", "visits/home")), { ok: true });
    const gone = await stratus("kv", "get", "visits/home");
    assert.equal(gone.code, 1);
    assert.match(gone.err, /NOT_FOUND: no value under visits\/home/);
  });

  it("cancels a run by its future id; an unknown id is NOT_FOUND", async () => {
    await cloud.register(
      "forever",
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => reject(new Error("stopped")));
        }),
    );
    await cloud.registerDag("wait", { functions: ["forever"] });
    const f = await cloud.callDag("wait", {}, { future: true, timeoutMs: 60_000 });
    const outcome = f.get().then(
      () => "resolved",
      (e: unknown) => (isStratusError(e) ? e.code : String(e)),
    );
    assert.deepEqual(json(await stratus("runs", "cancel", f.id)), { cancelled: true });
    assert.equal(await outcome, "CANCELLED");
    const unknown = await stratus("runs", "cancel", "00000000-0000-4000-8000-000000000000");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /NOT_FOUND/);
  });

  it("dev: deploys a module, and again on every save", async () => {
    const file = join(dir, "functions.ts");
    await writeFile(file, "export const version = (ctx: unknown) => 1;\n");
    const child = await startStratus(["dev", file], /(\d\d:\d\d:\d\d deployed version)\n/, {
      STRATUS_URL: proc.url,
      STRATUS_TOKEN: token,
      STRATUS_HOME: home,
    });
    try {
      assert.equal(await cloud.call("version", []), 1);
      const lines: string[] = [];
      const seen = (re: RegExp): Promise<void> =>
        new Promise((resolve) => {
          const on = (d: Buffer): void => {
            lines.push(...d.toString().split("\n"));
            if (lines.some((l) => re.test(l))) {
              child.proc.stdout?.off("data", on);
              resolve();
            }
          };
          child.proc.stdout?.on("data", on);
        });
      const failed = seen(/deploy failed/);
      await writeFile(file, "export const version = (ctx: unknown) => {\n");
      await failed;
      lines.length = 0;
      const redeployed = seen(/deployed version/);
      await writeFile(file, "export const version = (ctx: unknown) => 2;\n");
      await redeployed;
      assert.equal(await cloud.call("version", []), 2);
    } finally {
      await child.stop();
    }
  });
});

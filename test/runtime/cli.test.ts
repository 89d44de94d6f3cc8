/**
 * The `stratus` command as a user runs it: `up` in one process, then `deploy`, `call`, `dag` and
 * `status` as separate processes that find the cluster through the file `up` saved.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startStratus } from "../../testing/processes.js";
import { freePort } from "../../testing/redis.js";
import type { Child } from "../../testing/processes.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

describe("cli: stratus up, deploy, call, dag, status", () => {
  const home = mkdtempSync(join(tmpdir(), "stratus-cli-"));
  let up: Child;
  /** The token `up` made and printed. */
  let token = "";
  let metricsPort = 0;
  const stratusWith = async (
    env: NodeJS.ProcessEnv,
    ...args: string[]
  ): Promise<{ stdout: string; stderr: string; code: number }> => {
    try {
      const r = await run(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
        cwd: root,
        env: { ...process.env, STRATUS_HOME: home, ...env },
      });
      return { ...r, code: 0 };
    } catch (e) {
      const err = e as { stdout: string; stderr: string; code: number };
      return { stdout: err.stdout, stderr: err.stderr, code: err.code };
    }
  };
  const stratus = (...args: string[]) => stratusWith({}, ...args);

  before(async () => {
    metricsPort = await freePort();
    up = await startStratus(
      ["up", "--demo", "--executors", "2", "--metrics-port", String(metricsPort)],
      /Stratus is up at \S+\n {2}token: (\S+)\n/,
      { STRATUS_HOME: home },
    );
    token = up.ready;
  });
  after(async () => {
    await up.stop();
  });

  it("calls the demo functions", async () => {
    assert.equal(JSON.parse((await stratus("call", "inc", "[1]")).stdout), 2);
    assert.equal(JSON.parse((await stratus("dag", "pipeline", '{"inc":[1]}')).stdout), 4);
  });

  it("deploys a bundled module and runs its functions and DAGs", async () => {
    const d = await stratus("deploy", "examples/functions.ts");
    assert.equal(d.code, 0, d.stderr);
    const report = JSON.parse(d.stdout) as { functions: string[]; dags: string[] };
    assert.deepEqual(report.functions.sort(), ["bounded", "increment", "square", "visit"]);
    assert.deepEqual(report.dags, ["squareOfNext"]);
    assert.equal(
      JSON.parse((await stratus("dag", "squareOfNext", '{"increment":[20]}')).stdout),
      100,
    );
    assert.equal(JSON.parse((await stratus("call", "visit", '["home"]')).stdout), 1);
    assert.equal(JSON.parse((await stratus("call", "visit", '["home"]')).stdout), 2);
    const status = JSON.parse((await stratus("status", "--json")).stdout) as {
      functions: string[];
      nodes: unknown[];
    };
    assert.ok(status.functions.includes("visit"));
    assert.equal(status.nodes.length, 1);
    // Without --json: tables a person reads.
    assert.match((await stratus("status")).stdout, /^FUNCTION +CALLS\/S +P50 MS/m);
  });

  it("serves Prometheus metrics to holders of the token, and /healthz to anyone", async () => {
    await stratus("call", "inc", "[5]");
    const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
    // Without the token, or with another, nothing but a 401 saying how to authenticate.
    const tries: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: token },
    ];
    for (const headers of tries) {
      const refused = await fetch(metrics, { headers });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="stratus"');
      assert.equal(await refused.text(), "");
    }
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(health.status, 200);
    assert.doesNotMatch(await health.text(), /stratus_/);
    const res = await fetch(metrics, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    const metric = (name: string): number => {
      const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text);
      assert.ok(m, `${name} missing from:\n${text}`);
      return Number(m[1]);
    };
    assert.ok(metric("stratus_runs_ok_total") >= 1);
    assert.equal(metric("stratus_executors"), 2);
    assert.ok(metric("stratus_invocations_total") >= 1);
  });

  it("reports errors with their code and a non-zero exit", async () => {
    const r = await stratus("call", "nope", "[]");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NO_SUCH_FUNCTION/);
    const bad = await stratus("call", "inc", "[1");
    assert.match(bad.stderr, /INVALID_ARGUMENT: args is not valid JSON/);
    const unauth = await stratus("status", "--token", "wrong");
    assert.match(unauth.stderr, /UNAUTHORIZED/);
  });

  it("takes the token from --token-file or STRATUS_TOKEN, and says which one is wrong", async () => {
    const saved = JSON.parse(readFileSync(join(home, "cluster.json"), "utf8")) as {
      url: string;
      token: string;
    };
    // An empty home: the saved token cannot stand in for the one under test.
    const bare = { STRATUS_HOME: mkdtempSync(join(tmpdir(), "stratus-cli-bare-")) };
    const file = join(home, "token");
    writeFileSync(file, saved.token + "\n", { mode: 0o600 });
    const wrongFile = join(home, "wrong-token");
    writeFileSync(wrongFile, "not-the-token\n");
    const call = ["call", "inc", "[1]", "--url", saved.url];

    assert.equal(JSON.parse((await stratusWith(bare, ...call, "--token-file", file)).stdout), 2);
    assert.match(
      (await stratusWith(bare, ...call, "--token-file", wrongFile)).stderr,
      /UNAUTHORIZED/,
    );
    const fromEnv = await stratusWith({ ...bare, STRATUS_TOKEN: saved.token }, ...call);
    assert.equal(JSON.parse(fromEnv.stdout), 2);
    const wrongEnv = await stratusWith({ ...bare, STRATUS_TOKEN: "not-the-token" }, ...call);
    assert.match(wrongEnv.stderr, /UNAUTHORIZED/);

    const both = await stratusWith(bare, ...call, "--token", "x", "--token-file", file);
    assert.match(
      both.stderr,
      /INVALID_ARGUMENT: give the token with one of --token and --token-file/,
    );
    const missing = await stratusWith(bare, ...call, "--token-file", join(home, "nope"));
    assert.match(missing.stderr, /INVALID_ARGUMENT: --token-file: cannot read .*nope/);
  });

  it("`up` takes its token from STRATUS_TOKEN and does not print it", async () => {
    const token = "token-from-the-environment";
    const upHome = mkdtempSync(join(tmpdir(), "stratus-cli-up-"));
    const other = await startStratus(
      ["up", "--demo", "--executors", "1"],
      /Stratus is up at \S+\n {2}token: (.*)\n/,
      { STRATUS_TOKEN: token, STRATUS_HOME: upHome },
    );
    try {
      assert.equal(other.ready, "(from STRATUS_TOKEN)");
      assert.ok(!other.proc.spawnargs.join(" ").includes(token));
      const { url } = JSON.parse(readFileSync(join(upHome, "cluster.json"), "utf8")) as {
        url: string;
      };
      const bare = { STRATUS_HOME: mkdtempSync(join(tmpdir(), "stratus-cli-bare-")) };
      const r = await stratusWith(
        { ...bare, STRATUS_TOKEN: token },
        "call",
        "inc",
        "[4]",
        "--url",
        url,
      );
      assert.equal(JSON.parse(r.stdout), 5);
    } finally {
      await other.stop();
    }
  });
});

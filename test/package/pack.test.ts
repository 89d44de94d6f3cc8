/**
 * The package as a user gets it: `npm pack`, the tarball installed into a fresh project (its
 * dependencies from the npm registry or cache, no devDependency), then the `stratus` binary, an
 * ESM import of the package, and a TypeScript file type-checked against its declarations.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const repoPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
};

describe("package: npm pack, install into a fresh project, run", () => {
  const tmp = mkdtempSync(join(tmpdir(), "stratus-pack-"));
  const app = join(tmp, "app");
  const env: NodeJS.ProcessEnv = { ...process.env, STRATUS_HOME: join(tmp, "home") };
  delete env.STRATUS_TOKEN;
  delete env.STRATUS_URL;
  let up: ChildProcess | undefined;
  let url = "";
  let token = "";

  const inApp = (cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    exec(cmd, args, { cwd: app, env: { ...env, ...extra }, timeout: 120_000 });

  before(async () => {
    await exec("npm", ["pack", "--pack-destination", tmp], { cwd: root, timeout: 120_000 });
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    // @types/node as a TypeScript user on Node would have it: the declarations name node types.
    await inApp("npm", [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      join(tmp, `stratus-${repoPackage.version}.tgz`),
      `@types/node@${repoPackage.devDependencies["@types/node"]}`,
    ]);
    // Detached, in a process group of its own: see stopUp.
    up = spawn("npx", ["stratus", "up", "--port", "0", "--demo", "--executors", "1"], {
      cwd: app,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const printed = await new Promise<string>((resolve, reject) => {
      let out = "";
      let err = "";
      up?.stderr?.on("data", (d: Buffer) => (err += d.toString()));
      up?.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (/token: \S+\n/.test(out)) resolve(out);
      });
      up?.once("exit", (code) => reject(new Error(`stratus up exited (${code}):\n${out}${err}`)));
    });
    url = /Stratus is up at (\S+)\n/.exec(printed)?.[1] ?? "";
    token = /token: (\S+)\n/.exec(printed)?.[1] ?? "";
    assert.match(url, /^stratus:\/\/127\.0\.0\.1:\d+$/);
  });

  // The whole group (npx, its shell, the CLI), also if this process exits before after() runs.
  const stopUp = (): void => {
    try {
      if (up?.pid !== undefined) process.kill(-up.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  };
  process.once("exit", stopUp);

  after(() => {
    stopUp();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("installs dist/ and no devDependency", () => {
    const installed = join(app, "node_modules");
    assert.ok(existsSync(join(installed, "stratus", "dist", "index.js")));
    assert.ok(existsSync(join(installed, "stratus", "dist", "node", "executor", "worker.js")));
    // What the executors start from (npm run build writes it; see src/node/executor/entry.ts).
    const bundle = join(installed, "stratus", "dist", "node", "executor", "worker.bundle.cjs");
    assert.ok(existsSync(bundle), "the worker bundle is packed");
    assert.ok(!readFileSync(bundle, "utf8").includes("msgpackr-extract"), "plain-JS msgpackr");
    assert.ok(!existsSync(join(installed, "stratus", "src")), "sources are not packed");
    // Workloads, checkers and fixtures live in testing/, outside what is built and packed.
    const packed = readdirSync(join(installed, "stratus"), { recursive: true, encoding: "utf8" });
    const harness = packed.filter(
      (p) => !p.startsWith("node_modules") && /(^|[/\\])(testing|check|support)([/\\]|$)/.test(p),
    );
    assert.deepEqual(harness, [], "test harness code is not packed");
    for (const dev of ["tsx", "typescript", "eslint", "prettier", "fast-check"]) {
      assert.ok(!existsSync(join(installed, dev)), `${dev} was installed`);
    }
  });

  it("runs `stratus call` against `stratus up` with the printed address and token", async () => {
    const r = await inApp("npx", ["stratus", "call", "inc", "[1]", "--url", url], {
      STRATUS_TOKEN: token,
    });
    assert.equal(JSON.parse(r.stdout), 2);
  });

  it("bundles and registers a module with `stratus deploy`", async () => {
    writeFileSync(
      join(app, "fns.ts"),
      'import { createHash } from "node:crypto";\n' +
        "export const digest = (ctx: unknown, s: string): string =>\n" +
        '  createHash("sha256").update(s).digest("hex").slice(0, 8);\n',
    );
    const d = await inApp("npx", ["stratus", "deploy", "fns.ts", "--url", url, "--token", token]);
    assert.deepEqual((JSON.parse(d.stdout) as { functions: string[] }).functions, ["digest"]);
    const r = await inApp("npx", ["stratus", "call", "digest", '["a"]', "--url", url], {
      STRATUS_TOKEN: token,
    });
    assert.equal(JSON.parse(r.stdout), "ca978112");
  });

  it("imports the package from an ESM script and runs functions with it", async () => {
    writeFileSync(
      join(app, "check.mjs"),
      `import { Stratus, StratusError } from "stratus";
const remote = await Stratus.connect(process.argv[2], { token: process.argv[3] });
const dag = await remote.callDag("pipeline", { inc: [2] });
let code = "";
try { await remote.call("nope", []); } catch (e) { code = e instanceof StratusError ? e.code : String(e); }
await remote.close();
const local = await Stratus.local({ executors: 1 });
await local.register("double", (ctx, x) => x * 2);
const doubled = await local.call("double", [21]);
await local.close();
console.log(JSON.stringify({ dag, code, doubled }));
`,
    );
    const r = await inApp(process.execPath, ["check.mjs", url, token]);
    assert.deepEqual(JSON.parse(r.stdout), { dag: 9, code: "NO_SUCH_FUNCTION", doubled: 42 });
  });

  it("type-checks a TypeScript file against the declarations, and rejects a wrong one", async () => {
    writeFileSync(
      join(app, "good.ts"),
      `import { Stratus, ref, StratusError } from "stratus";
import type { Future } from "stratus";
const cloud: Stratus = await Stratus.connect("stratus://127.0.0.1:7400", { token: "t" });
await cloud.register("inc", async (ctx, x: number) => x + 1);
const n: number = await cloud.call<number>("inc", [ref("k")]);
const f: Future<number> = await cloud.callDag<number>("p", { inc: [n] }, { future: true });
const e: unknown = new StratusError("INTERNAL", "x");
console.log(await f.get(), e);
`,
    );
    // The control: were the declarations missing or loose (everything any), this would pass.
    writeFileSync(
      join(app, "bad.ts"),
      `import { Stratus } from "stratus";
await Stratus.connect(7400, { token: "t" });
`,
    );
    // One compiler run for both files (it is the slow step); without skipLibCheck, so that an
    // error inside the package's own declarations fails the test too.
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const flags = ["--noEmit", "--strict", "--target", "es2022"];
    const nodenext = ["--module", "nodenext", "--moduleResolution", "nodenext"];
    // tsc exits with 2 when it found errors; anything else (killed, crashed) is a failure here.
    const out = await exec(process.execPath, [tsc, ...flags, ...nodenext, "good.ts", "bad.ts"], {
      cwd: app,
      timeout: 180_000,
    }).then(
      () => "",
      (e: { code?: unknown; stdout: string; stderr: string }) => {
        assert.equal(e.code, 2, `tsc failed: ${e.stdout}${e.stderr}`);
        return e.stdout;
      },
    );
    const errors = out.split("\n").filter((l) => /error TS\d+/.test(l));
    assert.equal(errors.length, 1, out);
    assert.match(errors[0] ?? "", /^bad\.ts\(2,\d+\): error TS2345/);
  });
});

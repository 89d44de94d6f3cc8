/**
 * The Dockerfile, built and started without Docker (no engine runs here): its own COPY and RUN
 * lines, read from the file, build the image's file set into empty directories (the context
 * less `.dockerignore`), its install and build steps run there (`npm ci` prefers the local npm
 * cache and falls back to the registry), and the image's ENTRYPOINT and CMD start as its USER in
 * a network namespace of their own, as a container would, where a function is deployed and
 * called through the ports the image EXPOSEs.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { buildImage, parseDockerfile } from "../../testing/dockerfile.js";
import type { Image } from "../../testing/dockerfile.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const token = "docker-test-token";
/** The image's non-root USER runs as this uid here (the machine has no `node` user). */
const UNPRIVILEGED = 65534;

/**
 * What RUN lines start from, as in the base image: a plain PATH with this machine's Node and
 * npm (nothing of the repository's node_modules/.bin, which would hide a missing dependency), a
 * HOME whose npm cache is reused, and none of this test's own environment (NODE_ENV, npm_*).
 */
function baseEnv(): Record<string, string> {
  const path = [dirname(process.execPath), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin"]
    .concat(["/usr/bin", "/sbin", "/bin"])
    .join(delimiter);
  return {
    PATH: path,
    HOME: process.env.HOME ?? "/root",
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
  };
}

/** The image's command with its absolute paths into the image moved under the stage's root. */
function command(image: Image): string[] {
  return [...image.entrypoint, ...image.cmd].map((a) =>
    a.startsWith("/") && existsSync(join(image.root, a)) ? join(image.root, a) : a,
  );
}

describe("deploy: the Dockerfile, built and run without Docker", () => {
  const dir = mkdtempSync(join(tmpdir(), "stratus-docker-"));
  // Readable by the unprivileged user the image runs as, as an image's files are.
  chmodSync(dir, 0o755);
  let container: ChildProcess | undefined;
  after(() => {
    container?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("builds from exactly what it copies, and its command serves calls on its ports", async (t) => {
    const t0 = performance.now();
    const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
    const image = await buildImage(stages, {
      context: root,
      dir,
      baseEnv: baseEnv(),
      runTimeoutMs: 240_000,
      log: (line) => t.diagnostic(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${line}`),
    });
    const app = join(image.root, image.workdir);
    // The image ships the compiled CLI and the worker bundle, and nothing to build from.
    for (const f of [
      "dist/cli/main.js",
      "dist/node/executor/worker.bundle.cjs",
      "bin/stratus.js",
    ]) {
      assert.ok(existsSync(join(app, f)), `the image has ${f}`);
    }
    for (const f of ["src", "tsconfig.json", "scripts", "node_modules/typescript"]) {
      assert.ok(!existsSync(join(app, f)), `the image has no ${f}`);
    }

    const home = join(dir, "home");
    mkdirSync(home);
    const user = image.user !== undefined && image.user !== "root";
    if (user) chownSync(home, UNPRIVILEGED, UNPRIVILEGED);
    const asUser = user
      ? ["setpriv", `--reuid=${UNPRIVILEGED}`, `--regid=${UNPRIVILEGED}`, "--clear-groups", "--"]
      : [];
    const env = {
      PATH: baseEnv().PATH,
      HOME: home,
      ...image.env,
      // docker run -e STRATUS_TOKEN=…, as the Dockerfile's header shows.
      STRATUS_TOKEN: token,
    };
    // Its own network namespace, as a container has: the image's fixed ports cannot collide
    // with anything else on this machine, and are reached only from inside it.
    const c = spawn(
      "unshare",
      ["-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...asUser, ...command(image)],
      { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    container = c;
    let out = "";
    let err = "";
    c.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const up = await new Promise<RegExpExecArray>((resolve, reject) => {
      c.on("exit", (code) => reject(new Error(`the image's command exited (${code}):\n${err}`)));
      c.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /Stratus is up at stratus:\/\/\S+:(\d+)\n[\s\S]*http: http:\/\/\S+:(\d+)\n/.exec(
          out,
        );
        if (m !== null) resolve(m);
      });
    });
    c.removeAllListeners("exit");
    const [wire, http] = [Number(up[1]), Number(up[2])];
    assert.ok(image.exposed.includes(wire), `wire port ${wire} is EXPOSEd`);
    assert.ok(image.exposed.includes(http), `HTTP port ${http} is EXPOSEd`);

    // Inside the container's network, as its user, with the image's own CLI.
    const pid = String(c.pid);
    const inside = (argv: string[]): Promise<{ stdout: string }> =>
      run("nsenter", ["-t", pid, "-n", ...asUser, ...argv], { cwd: home, env });
    const cli = (args: string[]): Promise<{ stdout: string }> =>
      inside([process.execPath, join(app, "bin", "stratus.js"), ...args]);
    const fns = join(home, "functions.mjs");
    writeFileSync(fns, "export function inc(_ctx, x) {\n  return x + 1;\n}\n");
    const url = `stratus://127.0.0.1:${wire}`;
    const deployed = JSON.parse((await cli(["deploy", fns, "--url", url])).stdout) as {
      functions: string[];
    };
    assert.deepEqual(deployed.functions, ["inc"]);
    assert.equal(JSON.parse((await cli(["call", "inc", "[41]", "--url", url])).stdout), 42);
    const fetchInside = `fetch("http://127.0.0.1:${http}/v1/call/inc", { method: "POST", headers: { authorization: "Bearer " + process.env.STRATUS_TOKEN }, body: JSON.stringify({ args: [1] }) }).then(async (r) => console.log(r.status, await r.text()))`;
    const { stdout } = await inside([process.execPath, "-e", fetchInside]);
    assert.match(stdout, /^200 /);
    assert.equal((JSON.parse(stdout.slice(4)) as { result: unknown }).result, 2);

    // `docker stop` sends SIGTERM: the process stops cleanly.
    const exited = once(c, "exit");
    c.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, err);
  });
});

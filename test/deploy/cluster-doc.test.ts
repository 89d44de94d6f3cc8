/**
 * docs/cluster.md, run: every `sh` block of the page, in order, as the steps of one script. The
 * machines of the page (10.0.0.x) become loopback addresses of their own (127.0.0.x), its fixed
 * ports free ports, /etc/stratus and /var/lib/redis directories of a temporary folder, and
 * `--executors 8` two executors (this machine has 2 cores); nothing else is changed. A block whose
 * last command is `redis-server`, `stratus scheduler` or `stratus node` is a server, left running
 * once it says it is ready; every other block must exit 0. A section naming several machines runs
 * its block once for each.
 *
 * So the page cannot drift from what works: Redis with the password in its configuration, a CA
 * made by the page's own openssl lines, a scheduler, two nodes joining over `stratuss://` with
 * `--tls-ca`, and a function deployed and called through the scheduler.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { freePort } from "../../testing/redis.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

interface Step {
  section: string;
  /** The block as the page has it (for a section of several machines, with this one's address). */
  text: string;
  /** The page's address of the machine the block runs on, if its section names one. */
  machine: string | undefined;
}

/** The `sh` blocks of a Markdown page, each with its section and the machines it runs on. */
function steps(markdown: string): Step[] {
  const out: Step[] = [];
  for (const section of markdown.split(/^(?=## )/m)) {
    const heading = section.split("\n", 1)[0] ?? "";
    const machines = heading.match(/\b10\.0\.0\.\d+\b/g) ?? [];
    for (const m of section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
      const text = m[1] as string;
      const own = machines.find((ip) => text.includes(ip));
      if (own === undefined || machines.length === 1) {
        out.push({ section: heading, text, machine: machines.length === 1 ? own : undefined });
      } else {
        for (const ip of machines) {
          out.push({ section: heading, text: text.replaceAll(own, ip), machine: ip });
        }
      }
    }
  }
  return out;
}

/** What marks a server block ready, by its last command. */
const SERVERS: { command: RegExp; ready: RegExp }[] = [
  { command: /^redis-server /, ready: /Ready to accept connections/ },
  { command: /^stratus scheduler /, ready: /scheduler (\S+) at (\S+)\n/ },
  { command: /^stratus node /, ready: /node (\S+) joined at (\S+)\n/ },
];

function lastCommand(text: string): string {
  const lines = text.replace(/\\\n/g, " ").trim().split("\n");
  return (lines.at(-1) ?? "").trim();
}

describe("deploy: docs/cluster.md as a script", () => {
  const dir = mkdtempSync(join(tmpdir(), "stratus-cluster-doc-"));
  const servers: ChildProcess[] = [];
  after(async () => {
    // Each block ran in its own process group: stop everything it started.
    await Promise.all(
      servers.map(async (p) => {
        if (p.exitCode === null && p.signalCode === null) {
          const exited = once(p, "exit");
          process.kill(-(p.pid as number), "SIGTERM");
          await exited;
        }
        // The shell is gone, but not always what it started: Redis answers SIGTERM with a final
        // save and stays up when that fails (its directory is removed below). Nothing of the
        // group may outlive the test.
        try {
          process.kill(-(p.pid as number), "SIGKILL");
        } catch {
          // ESRCH: the whole group has exited.
        }
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it("brings up Redis, a scheduler and two nodes over TLS, and calls through them", async (t) => {
    const page = readFileSync(join(root, "docs", "cluster.md"), "utf8");
    const all = steps(page);
    assert.ok(all.length >= 6, `the page's steps: ${all.length}`);
    // Secrets are never arguments: Redis reads its password from its configuration file.
    assert.doesNotMatch(page, /--requirepass|--token [^<]|STRATUS_TOKEN=\S/);

    const ports = new Map<string, number>();
    for (const p of ["6379", "7400", "7480", "9464"]) ports.set(p, await freePort());
    const etc = join(dir, "etc", "stratus");
    const varLib = join(dir, "var", "lib", "redis");
    const loopback = (ip: string): string => ip.replace(/^10\.0\.0\./, "127.0.0.");
    const substitute = (s: Step): string => {
      let text = s.text
        .replaceAll("/etc/stratus", etc)
        .replaceAll("/var/lib/redis", varLib)
        .replace(/--executors 8\b/g, "--executors 2");
      if (text.includes("0.0.0.0")) {
        assert.ok(s.machine !== undefined, `${s.section}: 0.0.0.0 on no named machine`);
        text = text.replaceAll("0.0.0.0", loopback(s.machine));
      }
      text = text.replace(/\b10\.0\.0\.(\d+)\b/g, "127.0.0.$1");
      return text.replace(/\b(6379|7400|7480|9464)\b/g, (p) => String(ports.get(p)));
    };

    // `stratus` as installed: the repository's launcher (it runs the sources through tsx).
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(
      join(bin, "stratus"),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, "bin", "stratus.js"))} "$@"\n`,
    );
    chmodSync(join(bin, "stratus"), 0o755);
    const work = join(dir, "work");
    mkdirSync(work);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("STRATUS_")) delete env[k];
    env.PATH = `${bin}${delimiter}${process.env.PATH ?? ""}`;
    env.STRATUS_HOME = join(dir, "home");

    const outputs: string[] = [];
    const ready: string[][] = [];
    for (const [i, s] of all.entries()) {
      const text = substitute(s);
      const server = SERVERS.find((x) => x.command.test(lastCommand(text)));
      t.diagnostic(
        `step ${i + 1} (${s.section.replace(/^## /, "")}): ${lastCommand(s.text).replace(/\s+/g, " ")}`,
      );
      // Its own process group, so that the whole block (shell and server) can be stopped.
      const p = spawn("sh", ["-e", "-c", text], {
        cwd: work,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      p.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      if (server === undefined) {
        const [code] = (await once(p, "exit")) as [number | null];
        assert.equal(code, 0, `step ${i + 1} failed:\n${text}\n${out}${err}`);
        outputs.push(out);
        continue;
      }
      servers.push(p);
      const m = await new Promise<RegExpExecArray>((resolve, reject) => {
        p.once("exit", (code) =>
          reject(new Error(`step ${i + 1} exited (${code}) before it was ready:\n${text}\n${err}`)),
        );
        p.stdout.on("data", () => {
          const hit = server.ready.exec(out);
          if (hit !== null) resolve(hit);
        });
      });
      p.removeAllListeners("exit");
      ready.push([...m]);
    }

    // The scheduler and both nodes are up over TLS, on their own addresses.
    const scheduler = ready.find((r) => r[0]?.startsWith("scheduler"));
    assert.match(scheduler?.[2] ?? "", /^stratuss:\/\/127\.0\.0\.7:\d+$/);
    const nodes = ready.filter((r) => r[0]?.startsWith("node"));
    assert.deepEqual(
      nodes.map((r) => (r[2] ?? "").replace(/:\d+$/, "")),
      ["stratuss://127.0.0.8", "stratuss://127.0.0.9"],
    );
    // The last step deployed and called through the scheduler, and saw both nodes.
    const check = outputs.at(-1) ?? "";
    assert.match(check, /"hello, world"/);
    for (const n of nodes) assert.ok(check.includes(n[1] as string), `status lists ${n[1]}`);

    // Redis wants the password from the file; no process the page started has a secret in its
    // arguments (what `ps` shows every user).
    const password = readFileSync(join(etc, "redis-pw"), "utf8").trim();
    const token = readFileSync(join(etc, "token"), "utf8").trim();
    const redisCli = (args: string[], auth: string): Promise<{ stdout: string }> =>
      run("redis-cli", ["-h", "127.0.0.5", "-p", String(ports.get("6379")), ...args], {
        env: { ...process.env, REDISCLI_AUTH: auth },
      });
    assert.match((await redisCli(["PING"], "")).stdout, /NOAUTH/);
    assert.equal((await redisCli(["PING"], password)).stdout.trim(), "PONG");
    const groups = new Set(servers.map((p) => p.pid));
    let seen = 0;
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let stat: string;
      let cmdline: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      // Field 5 of stat, after the parenthesised command name, is the process group.
      const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (!groups.has(pgid)) continue;
      seen++;
      assert.ok(!cmdline.includes(password), `the Redis password in ${cmdline}`);
      assert.ok(!cmdline.includes(token), `the token in ${cmdline}`);
    }
    assert.ok(seen >= 4, `the page's servers were found in /proc (${seen})`);
  });
});

/**
 * `npm test`: makes sure Redis and Chromium are installed, starts one standalone server and one 3-master cluster
 * on free loopback ports for the suites to share, runs every test file (or the files and folders
 * given as arguments) with node:test, and stops the servers whatever happens.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { RedisCluster, RedisServer, redisInstalled } from "../testing/redis.js";

const has = (cmd: string): boolean =>
  spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

/**
 * Debian packages the suite needs: Redis (every storage test) and Chromium (the dashboard's
 * browser test). Installed with apt-get when run as root, as on a fresh machine or in CI;
 * otherwise the exact command to run.
 */
function ensurePackages(): void {
  const missing: string[] = [];
  if (!redisInstalled()) missing.push("redis-server", "redis-tools");
  if (!has("chromium") && !has("chromium-browser")) missing.push("chromium");
  if (missing.length === 0) return;
  const root = process.getuid?.() === 0;
  if (root && has("apt-get")) {
    console.log(`not found: installing ${missing.join(", ")} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    const r = spawnSync("apt-get", ["install", "-y", "-qq", ...missing], { stdio: "inherit", env });
    if (r.status === 0 && redisInstalled() && (has("chromium") || has("chromium-browser"))) return;
  }
  console.error(
    "The tests need Redis 7 (redis-server and redis-cli) and Chromium on the PATH.\n" +
      `Install them with:  sudo apt-get install -y ${missing.join(" ")}   (Debian/Ubuntu)\n` +
      "              or:  brew install redis && brew install --cask chromium   (macOS)",
  );
  process.exit(1);
}

function testFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const e of readdirSync(p)) if (e !== "fixtures") walk(join(p, e));
    } else if (p.endsWith(".test.ts")) {
      out.push(p);
    }
  };
  for (const p of paths.length > 0 ? paths : ["test"]) walk(p);
  return out.sort();
}

ensurePackages();
const files = testFiles(process.argv.slice(2));
const [server, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start()]);
let code = 1;
try {
  const child = spawn(
    process.execPath,
    // force-exit: a file whose tests all finished must not hold CI hostage with a stray handle;
    // test-timeout: nor may a single test that hangs.
    [
      "--import",
      "tsx",
      "--test",
      "--test-concurrency=2",
      "--test-force-exit",
      "--test-timeout=300000",
      ...files,
    ],
    {
      stdio: "inherit",
      env: {
        ...process.env,
        STRATUS_TEST_REDIS: server.url,
        STRATUS_TEST_REDIS_CLUSTER: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(","),
      },
    },
  );
  const stop = (): void => void child.kill("SIGINT");
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
} finally {
  await Promise.all([server.stop(), cluster.stop()]);
}
process.exit(code);

/**
 * The client carries no server: `import { Stratus } from "stratus"`, from the built package in a
 * fresh process, loads neither the scheduler, the node, the process that composes them,
 * prom-client nor ioredis (a client opens no store). The `stratus/local` entry, which loads the
 * server, with ioredis imported beside it, is the control that shows the probe sees each of them
 * when it loads.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { buildPackage, writeModuleProbe } from "../../testing/built-package.js";
import type { BuiltPackage } from "../../testing/built-package.js";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const scratch = join(root, ".tmp", "client-imports");

/** What of the server a list of module URLs holds, by part. */
function serverParts(urls: string[]): string[] {
  const parts = {
    scheduler: "/pkg/dist/scheduler/",
    node: "/pkg/dist/node/",
    cluster: "/pkg/dist/cluster/",
    "prom-client": "/node_modules/prom-client/",
    ioredis: "/node_modules/ioredis/",
  };
  return Object.entries(parts)
    .filter(([, marker]) => urls.some((u) => u.includes(marker)))
    .map(([part]) => part);
}

describe("package: importing the client loads no server", () => {
  let built: BuiltPackage;
  let probe: string;

  /** Runs `source` as an ES module of the application in a fresh process, with the probe. */
  async function modulesOf(name: string, source: string): Promise<string[]> {
    const file = join(built.app, name);
    writeFileSync(
      file,
      `${source}\nconsole.log(JSON.stringify(await globalThis.modulesLoaded()));\n`,
    );
    const r = await exec(process.execPath, ["--import", probe, file], {
      cwd: built.app,
      timeout: 60_000,
    });
    return JSON.parse(r.stdout) as string[];
  }

  before(async () => {
    built = await buildPackage(scratch);
    probe = writeModuleProbe(built.app);
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("stratus/local loads the scheduler, the node and prom-client (control)", async () => {
    const urls = await modulesOf(
      "local.mjs",
      'import { local } from "stratus/local";\nimport "ioredis";',
    );
    assert.deepEqual(serverParts(urls), ["scheduler", "node", "cluster", "prom-client", "ioredis"]);
  });

  it('import { Stratus } from "stratus" loads none of them', async () => {
    const urls = await modulesOf(
      "client.mjs",
      'import { Stratus } from "stratus";\nif (typeof Stratus.connect !== "function") process.exit(3);',
    );
    assert.ok(
      urls.some((u) => u.includes("/pkg/dist/client/")),
      "the probe saw the client load",
    );
    assert.deepEqual(serverParts(urls), []);
  });
});

/**
 * What an executor worker loads: the bundle every worker thread starts from (src/node/executor/
 * entry.ts) holds the executor, the function API, lattices, errors and the transaction client,
 * and no storage or server code. Bundling a storage module is the control that shows the check
 * sees a module when it is there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { writeWorkerBundle } from "../../src/node/executor/entry.js";

const root = join(import.meta.dirname, "..", "..");
const out = mkdtempSync(join(tmpdir(), "stratus-bundle-"));

/** The source files in a bundle: esbuild heads each module with a `// <path>` line. */
function modulesOf(source: string, name: string): string[] {
  const file = join(out, name);
  writeWorkerBundle(join(root, source), file);
  return [...readFileSync(file, "utf8").matchAll(/^\/\/ (\S+\.[cm]?[jt]s)$/gm)].map(
    (m) => m[1] as string,
  );
}

/** Folders of src/ (and packages) a worker must not load. */
const SERVER =
  /(^|\/)(src\/(storage|state|cache|scheduler|cluster|consistency|stats|protocol|wire|client)\/|node_modules\/(ioredis|prom-client)\/)/;

describe("executor: what a worker loads", () => {
  after(() => rmSync(out, { recursive: true, force: true }));

  it("a bundle of a storage module shows its storage code (control)", () => {
    const modules = modulesOf("src/storage/store.ts", "store.cjs");
    assert.ok(
      modules.some((m) => SERVER.test(m)),
      modules.join("\n"),
    );
  });

  it("the worker bundle holds no storage or server code", () => {
    const modules = modulesOf("src/node/executor/worker.ts", "worker.cjs");
    assert.ok(
      modules.some((m) => m.endsWith("src/node/executor/ctx.ts")),
      modules.join("\n"),
    );
    assert.ok(
      modules.some((m) => m.endsWith("src/txn/handle.ts")),
      "ctx.txn's client is there",
    );
    assert.deepEqual(
      modules.filter((m) => SERVER.test(m)),
      [],
    );
  });
});

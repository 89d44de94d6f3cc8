import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BUNDLE_CACHE, workerEntry } from "../../src/node/executor/entry.js";
import type { ExecutorPool } from "../../src/node/executor/index.js";
import { isStratusError } from "../../src/errors/index.js";
import { run, startPool } from "./memory-host.js";

const src = fileURLToPath(new URL("../../src/", import.meta.url));
const cache = fileURLToPath(BUNDLE_CACHE);

describe("the worker entry from TypeScript sources", () => {
  let pool: ExecutorPool;
  before(async () => ({ pool } = await startPool({ size: 1 })));
  after(() => pool.close());

  it("is a bundle in the checkout's cache folder, not a file written into src/", () => {
    const { url, entry } = workerEntry();
    assert.equal(entry, undefined, "workers start from the bundle, not through tsx");
    const file = fileURLToPath(url);
    assert.ok(file.startsWith(cache), `${file} is in ${cache}`);
    assert.ok(!file.startsWith(src), `${file} is outside src/`);
    assert.match(file, /\/worker-[0-9a-f]{12}\.bundle\.cjs$/);
    assert.ok(existsSync(file));
  });

  it("leaves the worker's own frames out of a user error's stack", async () => {
    // thrown.ts cuts the stack at the first frame of the worker's files, found by the bundle's
    // name; from the cache folder that must still work.
    const e = await run(pool, "function boom() { throw new Error('x'); }").then(
      () => assert.fail("the function threw"),
      (err: unknown) => err,
    );
    assert.ok(isStratusError(e) && e.code === "FUNCTION_ERROR");
    const stack = String(e.details?.stack);
    assert.match(stack, /at boom \(stratus:/);
    assert.ok(!stack.includes(".bundle.cjs"), stack);
    assert.ok(!stack.includes("node_modules"), stack);
  });
});

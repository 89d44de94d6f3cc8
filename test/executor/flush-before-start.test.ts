/**
 * A worker sends what it has to say in one message per turn, but never holds a finished call's
 * result behind the start of another: that one may run long without yielding, and the result
 * would reach the pool late (past its caller's patience, or its time limit).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { FunctionCode } from "../../src/node/executor/index.js";
import { run, startPool } from "./memory-host.js";

// `hold` spins, never yielding, until the test writes `flag` (or 10 s pass), and says which.
const bundle = `var fs = require("node:fs");
module.exports = {
  quick: () => 1,
  hold: (ctx, flag) => {
    const t0 = Date.now();
    while (!fs.existsSync(flag) && Date.now() - t0 < 10000) {}
    return fs.existsSync(flag) ? "released" : "gave up";
  },
};`;
const code = (exportName: string): FunctionCode => ({
  name: exportName,
  version: "1",
  kind: "module",
  source: bundle,
  exportName,
  concurrency: 2,
});

describe("executor: a worker's messages out", () => {
  it("a finished call's result reaches the pool while a call started after it spins", async () => {
    const { pool } = await startPool({ size: 1 });
    const dir = mkdtempSync(join(tmpdir(), "stratus-flush-"));
    const flag = join(dir, "flag");
    try {
      // Compiled first, so that below quick finishes as soon as it starts (no compile to await).
      const warm = join(dir, "warm");
      writeFileSync(warm, "");
      assert.equal(await run(pool, code("quick"), [], "q0"), 1);
      assert.equal(await run(pool, code("hold"), [warm], "h0"), "released");
      // Posted together, so the worker starts both in one turn: quick first.
      const quick = run(pool, code("quick"), [], "q1");
      const hold = run(pool, code("hold"), [flag], "h1");
      // Only quick's result arriving lets hold stop spinning: had it waited for the end of the
      // turn, hold would give up after 10 s with quick's result still in the worker.
      assert.equal(await quick, 1);
      writeFileSync(flag, "");
      assert.equal(await hold, "released");
    } finally {
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

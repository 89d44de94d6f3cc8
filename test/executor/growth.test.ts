/**
 * Growing the pool under load: workers started to grow it do not hold calls back from the
 * workers already running (only a replacement for a lost worker does), and they boot a few at a
 * time so that the ones ready first serve at once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeValue } from "../../src/lattice/index.js";
import { barrier, run, startPool } from "./memory-host.js";

const crash = {
  name: "crash",
  version: "1",
  kind: "source",
  source: "() => process.exit(3)",
} as const;

describe("executor pool growth", () => {
  it("calls keep being posted to the ready worker while new workers boot", async () => {
    const { pool, host } = await startPool({
      defaultConcurrency: 1,
      size: 1,
      pipelineDepth: 4,
      bootConcurrency: 2,
    });
    try {
      const started = host.sends("started", 1);
      const calls = [run(pool, barrier, [], "g-a")];
      await started;
      const growing = pool.resize(3);
      for (const id of ["g-b", "g-c", "g-d"]) calls.push(run(pool, barrier, [], id));
      assert.equal(pool.stats().booting, 2, "two workers booting");
      assert.deepEqual([pool.stats().posted, pool.stats().queued], [4, 0], "all posted, none held");
      await growing;
      for (const id of ["g-a", "g-b", "g-c", "g-d"]) host.deliver(id, encodeValue(id));
      assert.deepEqual(
        (await Promise.all(calls)).map((r) => (r as unknown[])[1]),
        ["g-a", "g-b", "g-c", "g-d"],
      );
    } finally {
      await pool.close();
    }
  });

  it("control: while a replacement for a lost worker boots, calls wait rather than queue behind a running one", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 2, pipelineDepth: 4 });
    try {
      const started = host.sends("started", 1);
      const a = run(pool, barrier, [], "r-a");
      await started;
      // A worker that dies (here by exiting) is replaced at once.
      await assert.rejects(run(pool, crash), { code: "INTERNAL" });
      assert.equal(pool.stats().booting, 1, "the replacement is booting");
      const b = run(pool, "async () => 'b'");
      assert.deepEqual([pool.stats().posted, pool.stats().queued], [1, 1], "held for the boot");
      assert.equal(await b, "b");
      host.deliver("r-a", encodeValue("go"));
      assert.deepEqual(await a, ["r-a", "go"]);
    } finally {
      await pool.close();
    }
  });

  it("boots at most bootConcurrency workers at a time, and resolves when all are ready", async () => {
    for (const bootConcurrency of [1, 4]) {
      const { pool } = await startPool({ defaultConcurrency: 1, size: 1, bootConcurrency });
      try {
        const growing = pool.resize(5);
        assert.equal(pool.stats().booting, bootConcurrency);
        await growing;
        const { workers, booting } = pool.stats();
        assert.deepEqual({ workers, booting }, { workers: 5, booting: 0 });
        assert.equal(await run(pool, "() => 5"), 5);
      } finally {
        await pool.close();
      }
    }
  });

  it("refuses a bootConcurrency that is not a positive integer", async () => {
    await assert.rejects(startPool({ bootConcurrency: 0 }), { code: "INVALID_ARGUMENT" });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FunctionCode } from "../../src/node/executor/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { CODE_CACHE_LIMIT } from "../../src/node/executor/code-cache.js";
import { barrier, run, startPool } from "./memory-host.js";

describe("concurrency", () => {
  it("runs one call at a time per worker with concurrency 1: two run together on two workers, a third waits", async () => {
    const { pool, host } = await startPool({ size: 2, defaultConcurrency: 1 });
    try {
      const events: string[] = [];
      const firstTwo = host.sends("started", 2);
      const all = host.sends("started", 3);
      const calls = ["a", "b", "c"].map((id) =>
        run(pool, barrier, [], id).then((out) => {
          events.push(`end ${id}`);
          return out;
        }),
      );
      const running = (await firstTwo) as string[];
      for (const id of running) events.push(`start ${id}`);
      assert.deepEqual(running.sort(), ["a", "b"]);
      const { size, workers, busy, queued, completed } = pool.stats();
      assert.deepEqual(
        { size, workers, busy, queued, completed },
        { size: 2, workers: 2, busy: 2, queued: 0, completed: 0 },
      );

      // Let the two running calls finish one by one; the third can only start after one did.
      host.deliver("a", encodeValue("go a"));
      await calls[0];
      host.deliver("b", encodeValue("go b"));
      await calls[1];
      const started = (await all) as string[];
      events.push(`start ${started[2]!}`);
      host.deliver("c", encodeValue("go c"));
      assert.deepEqual(await Promise.all(calls), [
        ["a", "go a"],
        ["b", "go b"],
        ["c", "go c"],
      ]);
      assert.equal(started[2], "c");
      assert.ok(events.indexOf("start c") > events.indexOf("end a"), events.join(", "));
      assert.equal(pool.stats().completed, 3);
    } finally {
      await pool.close();
    }
  });

  it("keeps every worker busy and answers many calls in order of their own results", async () => {
    const { pool } = await startPool({ size: 2, pipelineDepth: 2 });
    try {
      const sq: FunctionCode = {
        name: "sq",
        version: "1",
        kind: "source",
        source: "(ctx, x) => x * x",
      };
      const n = 500;
      const out = await Promise.all(Array.from({ length: n }, (_, i) => run(pool, sq, [i])));
      assert.deepEqual(
        out,
        Array.from({ length: n }, (_, i) => i * i),
      );
      const { size, workers, busy, queued, completed, posted } = pool.stats();
      assert.deepEqual(
        { size, workers, busy, queued, completed, posted },
        { size: 2, workers: 2, busy: 0, queued: 0, completed: n, posted: 0 },
      );
    } finally {
      await pool.close();
    }
  });

  it("stays in step with the worker's code cache past its limit", async () => {
    const { pool } = await startPool({ size: 1 });
    try {
      // More versions than a worker keeps compiled: the oldest are evicted on both sides, and
      // calling them again must ship their code again rather than find nothing in the worker.
      const v = (i: number): FunctionCode => ({
        name: "v",
        version: String(i),
        kind: "source",
        source: `(ctx, x) => x + ${i}`,
      });
      const versions = Array.from({ length: CODE_CACHE_LIMIT + 20 }, (_, i) => i);
      const first = await Promise.all(versions.map((i) => run(pool, v(i), [1000])));
      assert.deepEqual(
        first,
        versions.map((i) => 1000 + i),
      );
      // 20: the oldest version both sides still hold; 0 and 5: evicted; the newest; then 1.
      const picks = [20, 0, 5, CODE_CACHE_LIMIT + 19, 1];
      assert.deepEqual(await Promise.all(picks.map((i) => run(pool, v(i), [0]))), picks);
    } finally {
      await pool.close();
    }
  });
});

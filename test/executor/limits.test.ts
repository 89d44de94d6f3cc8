import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode } from "../../src/node/executor/index.js";
import { isStratusError } from "../../src/errors/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { run, startPool } from "./memory-host.js";

function code(name: string, source: string, timeoutMs?: number): FunctionCode {
  return { name, version: "1", kind: "source", source, timeoutMs };
}

const hasCode = (code: string, message?: RegExp) => (e: unknown) =>
  isStratusError(e) && e.code === code && (message === undefined || message.test(e.message));

describe("time limit", () => {
  it("kills an endless function, re-runs the calls queued behind it, keeps serving", async () => {
    // One worker, so the quick calls are posted to the same worker, behind the loop.
    const { pool } = await startPool({ defaultConcurrency: 1, size: 1, pipelineDepth: 4 });
    try {
      const spin = run(pool, code("spin", "() => { while (true) {} }", 200));
      const queued = [1, 2, 3].map((n) => run(pool, code("inc", "(ctx, x) => x + 1"), [n]));
      await assert.rejects(
        spin,
        hasCode("FUNCTION_TIMEOUT", /^function spin exceeded its time limit of 200 ms$/),
      );
      assert.deepEqual(await Promise.all(queued), [2, 3, 4]);
      assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [9]), 10);
      assert.equal(pool.stats().size, 1);
    } finally {
      await pool.close();
    }
  });

  it("uses the pool default when the code sets none, and counts time spent awaiting", async () => {
    const { pool } = await startPool({ defaultConcurrency: 1, size: 1, defaultTimeoutMs: 100 });
    try {
      // Waits on a message that never comes: the limit still applies.
      await assert.rejects(
        run(pool, code("waiter", "(ctx) => ctx.recv()")),
        hasCode("FUNCTION_TIMEOUT", /100 ms/),
      );
      assert.equal(await run(pool, code("ok", "() => 'ok'", 5_000)), "ok");
    } finally {
      await pool.close();
    }
  });
});

describe("memory limit", () => {
  it("fails a call that exhausts the heap with FUNCTION_OOM and replaces the worker", async () => {
    const { pool } = await startPool({
      defaultConcurrency: 1,
      size: 1,
      resourceLimits: { maxOldGenerationSizeMb: 48 },
      maxConcurrency: 1,
    });
    try {
      const hog = `() => {
        const keep = [];
        for (;;) keep.push(new Array(100000).fill(Math.random()));
      }`;
      const after = run(pool, code("inc", "(ctx, x) => x + 1"), [1]);
      await assert.rejects(
        run(pool, code("hog", hog, 30_000)),
        hasCode("FUNCTION_OOM", /^function hog exceeded its memory limit of 48 MB$/),
      );
      assert.equal(await after, 2);
      assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [2]), 3);
    } finally {
      await pool.close();
    }
  });
});

describe("crashes and lifecycle", () => {
  it("fails only the running call with INTERNAL when a worker dies", async () => {
    const { pool } = await startPool({ defaultConcurrency: 1, size: 1 });
    try {
      const next = run(pool, code("inc", "(ctx, x) => x + 1"), [5]);
      await assert.rejects(
        run(pool, code("quitter", "() => process.exit(3)")),
        hasCode("INTERNAL", /crashed while running quitter: exit code 3$/),
      );
      assert.equal(await next, 6);
    } finally {
      await pool.close();
    }
  });

  it("close() rejects queued and running calls with CLOSED, and later calls too", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1 });
    const started = host.sends("started", 1);
    const blocked = run(
      pool,
      code("block", "async (ctx) => { await ctx.send('started', 1); return ctx.recv(); }"),
    );
    const queued = Array.from({ length: 8 }, () => run(pool, code("one", "() => 1")));
    await started;
    // Handlers attached before close() rejects them, so no rejection goes unhandled.
    const outcomes = Promise.allSettled([blocked, ...queued]);
    await pool.close();
    for (const o of await outcomes) {
      assert.equal(o.status, "rejected");
      assert.ok(hasCode("CLOSED")(o.reason));
    }
    await assert.rejects(run(pool, code("one", "() => 1")), hasCode("CLOSED"));
    await pool.close(); // idempotent
  });

  it("resize() adds workers and retires them after their current call", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1 });
    try {
      await pool.resize(3);
      assert.equal(pool.size, 3);
      assert.equal(pool.stats().size, 3);
      const started = host.sends("started", 3);
      const block = code(
        "block",
        "async (ctx) => { await ctx.send('started', ctx.id()); return ctx.recv(); }",
      );
      const calls = ["r1", "r2", "r3"].map((id) => run(pool, block, [], id));
      await started; // three calls running at once: one per worker
      let shrunk = false;
      const shrinking = pool.resize(1).then(() => (shrunk = true));
      for (const id of ["r1", "r2", "r3"]) host.deliver(id, encodeValue(id));
      assert.deepEqual(await Promise.all(calls), ["r1", "r2", "r3"]);
      await shrinking;
      assert.ok(shrunk);
      assert.equal(pool.size, 1);
      assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [1]), 2);
    } finally {
      await pool.close();
    }
  });
});

describe("time limit caps and deadlines", () => {
  it("clamps a function's own timeoutMs to the pool's maxTimeoutMs", async () => {
    const { pool } = await startPool({ defaultConcurrency: 1, size: 1, maxTimeoutMs: 150 });
    try {
      await assert.rejects(
        run(pool, code("spin", "() => { while (true) {} }", 3_600_000)),
        hasCode("FUNCTION_TIMEOUT", /time limit of 150 ms$/),
      );
      assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [1]), 2);
    } finally {
      await pool.close();
    }
  });

  it("accepts only finite positive time limits", async () => {
    const { pool } = await startPool({ defaultConcurrency: 1, size: 1 });
    try {
      for (const bad of [Infinity, NaN, 0, -5, "100", null]) {
        const c = { ...code("inc", "(ctx, x) => x + 1"), timeoutMs: bad as number };
        await assert.rejects(run(pool, c, [1]), hasCode("INVALID_ARGUMENT", /timeoutMs/));
      }
    } finally {
      await pool.close();
    }
    for (const bad of [Infinity, NaN, 0, -1]) {
      assert.throws(
        () => new ExecutorPool({ size: 1, host: async () => undefined, maxTimeoutMs: bad }),
        hasCode("INVALID_ARGUMENT", /maxTimeoutMs/),
      );
    }
  });

  it("does not start a queued call whose deadline has passed: TIMEOUT, and it never runs", async () => {
    // pipelineDepth 1 keeps the late call in the pool's queue; 4 posts it behind the blocker in
    // the worker, which must then check the deadline itself.
    for (const pipelineDepth of [1, 4]) {
      const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1, pipelineDepth });
      try {
        const started = host.sends("started", 1);
        const block = code(
          "block",
          "async (ctx) => { await ctx.send('started', 1); return ctx.recv(); }",
        );
        const blocker = run(pool, block, [], `blocker-${pipelineDepth}`);
        await started;
        const deadline = Date.now() + 50;
        const late = pool.invoke({
          id: `late-${pipelineDepth}`,
          code: code("writer", "async (ctx) => { await ctx.put('ran', true); return 1; }"),
          args: [],
          deadline,
        });
        late.catch(() => undefined);
        // The deadline is a time, so waiting for the clock to pass it is the event itself.
        while (Date.now() <= deadline)
          await new Promise((r) => setTimeout(r, deadline - Date.now() + 1));
        host.deliver(`blocker-${pipelineDepth}`, encodeValue("go"));
        assert.equal(await blocker, "go");
        await assert.rejects(
          late,
          hasCode("TIMEOUT", /was not started: its caller's deadline passed/),
        );
        assert.equal(host.store.has("ran"), false);
        assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [1]), 2);
      } finally {
        await pool.close();
      }
    }
  });
});

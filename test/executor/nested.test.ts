import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode, HostHandler } from "../../src/node/executor/index.js";
import { isStratusError } from "../../src/errors/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";

const code = (name: string, source: string, timeoutMs?: number): FunctionCode => ({
  name,
  version: "1",
  kind: "source",
  source,
  timeoutMs,
});

/** outer -> mid -> leaf: each adds to what the one below returns. */
const FUNCTIONS = new Map<string, FunctionCode>([
  ["outer", code("outer", "async (ctx, x) => 100 + (await ctx.call('mid', [x]))")],
  ["mid", code("mid", "async (ctx, x) => 10 + (await ctx.call('leaf', [x]))")],
  ["leaf", code("leaf", "(ctx, x) => x + 1")],
]);

/**
 * A pool whose host runs `ctx.call` on the same pool, as a node does when the callee is placed on
 * it (the node goes through its dispatcher; here the hop is direct), passing the caller's deadline.
 */
function nestedPool(opts: { size: number; maxExtraWorkers?: number; pipelineDepth?: number }): {
  pool: ExecutorPool;
  deadlines: { fn: string; deadline: number }[];
} {
  let n = 0;
  const deadlines: { fn: string; deadline: number }[] = [];
  const host: HostHandler = async (op, args, inv) => {
    if (op !== "call") throw new Error(`unexpected host op ${op}`);
    deadlines.push({ fn: inv.fn, deadline: inv.deadline });
    const callee = FUNCTIONS.get(args[0]);
    if (callee === undefined) throw new Error(`no function ${String(args[0])}`);
    const id = `${inv.id}/${n++}`;
    return pool.invoke({ id, code: callee, args: args[1], deadline: inv.deadline });
  };
  // One invocation per worker: lending is what lets a caller and its callees share one executor.
  const pool = new ExecutorPool({ defaultConcurrency: 1, ...opts, defaultTimeoutMs: 20_000, host });
  return { pool, deadlines };
}

let ids = 0;
const call = async (pool: ExecutorPool, fn: string, x: number, timeoutMs?: number) => {
  const c = FUNCTIONS.get(fn) as FunctionCode;
  const withLimit = timeoutMs === undefined ? c : { ...c, timeoutMs };
  const out = await pool.invoke({ id: `c${++ids}`, code: withLimit, args: [encodeValue(x)] });
  return decodeValue(out);
};

/** Resolves once `pool` is back to its own size (lent workers retire after a second idle). */
async function settled(pool: ExecutorPool): Promise<void> {
  while (pool.stats().workers > pool.size) await new Promise((r) => setTimeout(r, 100));
}

describe("nested calls", () => {
  it("deadlock on a one-executor pool that may not lend a worker (control)", async () => {
    const { pool } = nestedPool({ size: 1, maxExtraWorkers: 0 });
    await pool.start();
    try {
      // outer holds the only worker while it waits on mid, which waits behind it: only the
      // time limit ends it. This is the fault the lending below removes.
      await assert.rejects(
        call(pool, "outer", 1, 300),
        (e: unknown) => isStratusError(e) && e.code === "FUNCTION_TIMEOUT",
      );
    } finally {
      await pool.close();
    }
  });

  it("run three deep on one executor: outer -> mid -> leaf", async () => {
    const { pool } = nestedPool({ size: 1 });
    await pool.start();
    try {
      assert.equal(await call(pool, "outer", 1), 112);
      // Two workers were lent (for mid and leaf) and are retired once idle.
      assert.ok(pool.stats().workers <= 3);
      await settled(pool);
      assert.equal(pool.stats().workers, 1);
      assert.equal(await call(pool, "outer", 2), 113);
    } finally {
      await pool.close();
    }
  });

  it("serve more concurrent outer calls than executors", async () => {
    for (const size of [1, 2]) {
      const { pool } = nestedPool({ size });
      await pool.start();
      try {
        const xs = Array.from({ length: 8 }, (_, i) => i);
        const out = await Promise.all(xs.map((x) => call(pool, "outer", x)));
        assert.deepEqual(
          out,
          xs.map((x) => 111 + x),
        );
        assert.equal(pool.stats().completed, 3 * xs.length);
      } finally {
        await pool.close();
      }
    }
  });

  it("lend no more workers than maxExtraWorkers", async () => {
    // One lent worker is enough for outer -> mid, not for the leaf below.
    const { pool } = nestedPool({ size: 1, maxExtraWorkers: 1 });
    await pool.start();
    try {
      await assert.rejects(
        call(pool, "outer", 1, 400),
        (e: unknown) => isStratusError(e) && e.code === "FUNCTION_TIMEOUT",
      );
      assert.ok(pool.stats().workers <= 2);
    } finally {
      await pool.close();
    }
  });

  it("give nested calls the caller's deadline, never more than its time limit", async () => {
    const { pool, deadlines } = nestedPool({ size: 1 });
    await pool.start();
    try {
      const before = Date.now();
      // A generous limit: each lent worker boots (tsx included) on a busy, shared machine.
      assert.equal(await call(pool, "outer", 1, 30_000), 112);
      const [outer, mid] = deadlines;
      assert.equal(outer?.fn, "outer");
      assert.equal(mid?.fn, "mid");
      // outer's limit ends within 30 s of the call; mid inherits that deadline (or sooner).
      assert.ok(outer.deadline <= before + 30_000 + 50 && outer.deadline > before);
      assert.ok(mid.deadline <= outer.deadline);
    } finally {
      await pool.close();
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode } from "../../src/node/executor/index.js";
import { CancelledError, isStratusError } from "../../src/errors/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";
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

const fn = (name: string, source: string, extra: Partial<FunctionCode> = {}): FunctionCode => ({
  name,
  version: "1",
  kind: "source",
  source,
  ...extra,
});

/** A token unique to the worker it runs in. */
const whoami = fn("whoami", "() => globalThis.__w ??= Math.random()");

/**
 * Announces itself, waits for a message, then returns its id, that message and whether its own
 * signal was aborted; aborted while waiting, it returns the abort's code instead of a message.
 */
const waiter = (extra: Partial<FunctionCode> = {}): FunctionCode =>
  fn(
    "waiter",
    `async (ctx) => {
      await ctx.send("started", ctx.id());
      const aborted = new Promise((r) => ctx.signal.addEventListener("abort", () => r(ctx.signal.reason.code)));
      const got = await Promise.race([ctx.recv({ timeoutMs: 60000 }).catch((e) => e.code), aborted]);
      return [ctx.id(), got, ctx.signal.aborted];
    }`,
    extra,
  );

describe("concurrent invocations in one worker", () => {
  it("run up to the function's concurrency at once; the next starts when one ends", async () => {
    const { pool, host } = await startPool({ size: 1 });
    try {
      const two = waiter({ concurrency: 2 });
      const firstTwo = host.sends("started", 2);
      const all = host.sends("started", 3);
      const calls = ["a", "b", "c"].map((id) => run(pool, two, [], id));
      assert.deepEqual(((await firstTwo) as string[]).sort(), ["a", "b"]);
      // The third is posted to the worker (it is handed calls ahead), where it waits.
      const { workers, posted, queued } = pool.stats();
      assert.deepEqual({ workers, posted, queued }, { workers: 1, posted: 3, queued: 0 });
      host.deliver("b", encodeValue("go b"));
      assert.deepEqual(await calls[1], ["b", "go b", false]);
      assert.equal(((await all) as string[])[2], "c", "c started once b had ended");
      host.deliver("a", encodeValue("go a"));
      host.deliver("c", encodeValue("go c"));
      assert.deepEqual(await calls[0], ["a", "go a", false]);
      assert.deepEqual(await calls[2], ["c", "go c", false]);
    } finally {
      await pool.close();
    }
  });

  it("a concurrency-1 function waits for the calls running in the worker, and runs alone", async () => {
    const { pool, host } = await startPool({ size: 1 });
    try {
      const started = host.sends("started", 2);
      const many = run(pool, waiter({ concurrency: 8 }), [], "many");
      await host.sends("started", 1);
      const alone = run(pool, waiter({ concurrency: 1, version: "alone" }), [], "alone");
      const after = run(pool, waiter({ concurrency: 8 }), [], "after");
      host.deliver("many", encodeValue("m"));
      assert.deepEqual(await many, ["many", "m", false]);
      // "alone" started only after "many" ended, and "after" waits behind it.
      const order = (await started) as string[];
      assert.deepEqual(order, ["many", "alone"]);
      assert.equal(pool.stats().posted, 2, "alone runs, after is posted behind it");
      const third = host.sends("started", 1);
      host.deliver("alone", encodeValue("x"));
      assert.deepEqual(await alone, ["alone", "x", false]);
      assert.deepEqual(await third, ["after"]);
      host.deliver("after", encodeValue("y"));
      assert.deepEqual(await after, ["after", "y", false]);
    } finally {
      await pool.close();
    }
  });

  it("keep their own ids, mail and signals: one cancelled while the other completes", async () => {
    const { pool, host } = await startPool({ size: 1, cancelGraceMs: 20_000 });
    try {
      const w = await run(pool, whoami);
      const started = host.sends("started", 2);
      const a = run(pool, waiter(), [], "a");
      const b = run(pool, waiter(), [], "b");
      assert.deepEqual(((await started) as string[]).sort(), ["a", "b"]);
      assert.equal(pool.stats().workers, 1, "both in one worker");
      assert.equal(pool.cancel("a", new CancelledError("lost the race")), true);
      await assert.rejects(a, { code: "CANCELLED" });
      // b's signal is untouched and its mail is its own.
      host.deliver("b", encodeValue("for b"));
      assert.deepEqual(await b, ["b", "for b", false]);
      assert.equal(await run(pool, whoami), w, "the same worker serves on");
      // a saw its own abort (it settled, so the worker kept running calls).
      const log = host.log.filter((l) => l.op === "send" && l.args[0] === "started");
      assert.deepEqual(log.map((l) => l.inv.id).sort(), ["a", "b"]);
    } finally {
      await pool.close();
    }
  });

  it("one past its time limit is stopped while the other completes in the same worker", async () => {
    const { pool, host } = await startPool({ size: 1, cancelGraceMs: 20_000 });
    try {
      const w = await run(pool, whoami);
      const started = host.sends("started", 2);
      const quick = run(pool, waiter({ name: "quick", timeoutMs: 150 }), [], "quick");
      const slow = run(pool, waiter({ name: "slow", timeoutMs: 60_000 }), [], "slow");
      await started;
      await assert.rejects(quick, { code: "FUNCTION_TIMEOUT", message: /quick/ });
      host.deliver("slow", encodeValue("still here"));
      assert.deepEqual(await slow, ["slow", "still here", false]);
      assert.equal(await run(pool, whoami), w, "no worker was lost");
    } finally {
      await pool.close();
    }
  });

  it("one that ignores its abort past the grace costs the worker: the others fail retryable", async () => {
    const { pool, host } = await startPool({ size: 1, cancelGraceMs: 200 });
    try {
      const w = await run(pool, whoami);
      const started = host.sends("started", 2);
      const calm = run(pool, waiter(), [], "calm");
      const spin = fn("spin", "async (ctx) => { await ctx.send('started', ctx.id()); for (;;); }");
      const spinning = run(pool, spin, [], "spinner");
      await started;
      pool.cancel("spinner", new CancelledError("stop"));
      await assert.rejects(spinning, { code: "CANCELLED" });
      await assert.rejects(calm, (e: unknown) => {
        assert.ok(isStratusError(e) && e.retryable, String(e));
        assert.match((e as Error).message, /spinner of spin.*ignored its abort/);
        return true;
      });
      assert.notEqual(await run(pool, whoami), w, "a replacement worker serves on");
    } finally {
      await pool.close();
    }
  });

  it("the external-memory limit is per invocation: two holding 40 MB each fit a 64 MB limit", async () => {
    const hold = fn(
      "hold",
      `async (ctx, mb) => {
        await ctx.send("started", ctx.id());
        await ctx.recv();
        const b = Buffer.alloc(mb << 20, 1);
        await ctx.send("held", ctx.id());
        await ctx.recv();
        return b.length >> 20;
      }`,
    );
    const { pool, host } = await startPool({ size: 1, maxExternalMemoryMb: 64 });
    try {
      // Control: one invocation holding 80 MB is over its limit.
      const started = host.sends("started", 1);
      const big = run(pool, hold, [80], "big");
      await started;
      host.deliver("big", encodeValue("go"));
      await assert.rejects(big, { code: "FUNCTION_OOM", message: /64 MB of external memory/ });

      const both = host.sends("started", 2);
      const held = host.sends("held", 2);
      const x = run(pool, hold, [40], "x");
      const y = run(pool, hold, [40], "y");
      await both;
      host.deliver("x", encodeValue("go"));
      host.deliver("y", encodeValue("go"));
      await held;
      host.deliver("x", encodeValue("done"));
      host.deliver("y", encodeValue("done"));
      assert.deepEqual(await Promise.all([x, y]), [40, 40]);
    } finally {
      await pool.close();
    }
  });

  it("nested calls share the caller's worker: outer -> mid -> leaf on one executor, none lent", async () => {
    const codes = new Map<string, FunctionCode>([
      ["outer", fn("outer", "async (ctx, x) => 100 + (await ctx.call('mid', [x]))")],
      ["mid", fn("mid", "async (ctx, x) => 10 + (await ctx.call('leaf', [x]))")],
      ["leaf", fn("leaf", "(ctx, x) => x + 1")],
    ]);
    let n = 0;
    const pool: ExecutorPool = new ExecutorPool({
      size: 1,
      maxExtraWorkers: 0,
      host: async (op, args, inv) => {
        if (op !== "call") throw new Error(`unexpected ${op}`);
        const code = codes.get(args[0]) as FunctionCode;
        return pool.invoke({ id: `${inv.id}/${n++}`, code, args: args[1] });
      },
    });
    await pool.start();
    try {
      const outer = codes.get("outer") as FunctionCode;
      const xs = [1, 2, 3];
      const out = await Promise.all(
        xs.map((x, i) => pool.invoke({ id: `o${i}`, code: outer, args: [encodeValue(x)] })),
      );
      assert.deepEqual(
        out.map((b) => decodeValue(b)),
        xs.map((x) => 111 + x),
      );
      assert.equal(pool.stats().workers, 1);
    } finally {
      await pool.close();
    }
  });

  it("a fused chain holds one slot at a time: its next call waits for the one before it, not for others", async () => {
    const { pool, host } = await startPool({ size: 1 });
    try {
      const two = waiter({ concurrency: 2 });
      // Follows the waiter in the chain: gets its result as its first argument.
      const tag = fn("tag", "(ctx, prev) => ['after', prev[0], prev[1]]", { concurrency: 2 });
      const started = host.sends("started", 2);
      const chain = pool.invokeChain([
        { id: "head", code: two, args: [] },
        { id: "next", code: tag, args: [] },
      ]);
      const other = run(pool, two, [], "other");
      // The head and the other call fill both slots: the chain's next call took none.
      assert.deepEqual(((await started) as string[]).sort(), ["head", "other"]);
      host.deliver("head", encodeValue("h"));
      const [head, next] = await Promise.all(chain);
      assert.deepEqual(decodeValue(head as Uint8Array), ["head", "h", false]);
      assert.deepEqual(decodeValue(next as Uint8Array), ["after", "head", "h"]);
      host.deliver("other", encodeValue("o"));
      assert.deepEqual(await other, ["other", "o", false]);
    } finally {
      await pool.close();
    }
  });

  it("refuses a concurrency that is not a positive integer", async () => {
    const { pool } = await startPool({ size: 1 });
    try {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        assert.throws(
          () => new ExecutorPool({ size: 1, host: async () => undefined, defaultConcurrency: bad }),
          { code: "INVALID_ARGUMENT" },
        );
        await assert.rejects(run(pool, waiter({ concurrency: bad })), { code: "INVALID_ARGUMENT" });
      }
    } finally {
      await pool.close();
    }
  });
});

/**
 * Cancelling an invocation (the dataflow's losing replicas) is cooperative: the caller has its
 * CANCELLED answer at once, the function's `ctx.signal` is aborted, and its worker goes on to the
 * next call as soon as the function settles. Only a function that ignores the signal past the
 * grace period (CPU-bound code) costs its worker. One posted behind a running call never runs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledError } from "../../src/errors/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import type { FunctionCode } from "../../src/node/executor/index.js";
import { barrier, run, startPool } from "./memory-host.js";

const fn = (name: string, source: string, timeoutMs?: number): FunctionCode => ({
  name,
  version: "1",
  kind: "source",
  source,
  ...(timeoutMs === undefined ? {} : { timeoutMs }),
});

/** A token unique to the worker it runs in, and what the last stopped function noted there. */
const whoami = fn("whoami", "() => [globalThis.__w ??= Math.random(), globalThis.__noted]");

/** Announces itself, then waits (up to a minute) for its signal, and notes the abort's code. */
const sleeper = fn(
  "sleeper",
  `async (ctx) => {
    await ctx.send("started", ctx.id());
    await new Promise((r) => {
      const t = setTimeout(r, 60000);
      ctx.signal.addEventListener("abort", () => { clearTimeout(t); r(); });
    });
    globalThis.__noted = ctx.signal.reason.code;
    return "slept";
  }`,
);

describe("executor cancel", () => {
  it("a call posted behind a running one is answered at once and never runs", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1, pipelineDepth: 2 });
    try {
      const started = host.sends("started", 1);
      const ahead = run(pool, barrier, [], "ahead");
      await started;
      // Posted behind `ahead` in the same worker (depth 2): the worker already has it.
      const behind = assert.rejects(run(pool, barrier, [], "behind"), { code: "CANCELLED" });
      await new Promise((r) => setImmediate(r));
      assert.equal(pool.stats().posted, 2, "posted behind the running call");
      assert.equal(pool.cancel("behind", new CancelledError("lost the race")), true);
      await behind;
      host.deliver("ahead", encodeValue("go"));
      assert.deepEqual(await ahead, ["ahead", "go"]);
      // The executor is free at once: the next call runs and finishes.
      assert.equal(await run(pool, "async () => 7"), 7);
      // What was cancelled never ran: only `ahead` announced itself.
      const starts = host.log.filter((l) => l.op === "send" && l.args[0] === "started");
      assert.deepEqual(
        starts.map((l) => l.inv.id),
        ["ahead"],
      );
    } finally {
      await pool.close();
    }
  });

  it("a function awaiting a long sleep sees ctx.signal aborted, and the same worker serves the next call at once", async () => {
    const grace = 20_000;
    const { pool, host } = await startPool({
      defaultConcurrency: 1,
      size: 1,
      cancelGraceMs: grace,
    });
    try {
      const [worker] = (await run(pool, whoami)) as [number];
      const started = host.sends("started", 1);
      const sleeping = run(pool, sleeper, [], "sleepy");
      await started;
      const t0 = performance.now();
      assert.equal(pool.cancel("sleepy", new CancelledError("another replica won")), true);
      await assert.rejects(sleeping, { code: "CANCELLED", message: /another replica won/ });
      assert.deepEqual(await run(pool, whoami), [worker, "CANCELLED"], "same worker, signal seen");
      assert.ok(performance.now() - t0 < grace / 2, "served without waiting out the grace");
      const { workers, booting, completed } = pool.stats();
      assert.deepEqual({ workers, booting, completed }, { workers: 1, booting: 0, completed: 3 });
    } finally {
      await pool.close();
    }
  });

  it("a CPU-bound function that ignores the signal loses its worker after the grace period", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1, cancelGraceMs: 300 });
    try {
      const [worker] = (await run(pool, whoami)) as [number];
      const started = host.sends("started", 1);
      const spin = fn("spin", "async (ctx) => { await ctx.send('started', ctx.id()); for (;;); }");
      const spinning = run(pool, spin, [], "spinner");
      await started;
      const t0 = performance.now();
      pool.cancel("spinner", new CancelledError("stop"));
      await assert.rejects(spinning, { code: "CANCELLED" });
      assert.ok(performance.now() - t0 < 300, "answered before the grace ran out");
      const [next] = (await run(pool, whoami)) as [number];
      assert.ok(performance.now() - t0 >= 290, "the next call waited for the grace");
      assert.notEqual(next, worker, "served by a replacement worker");
    } finally {
      await pool.close();
    }
  });

  it("a cancelled invocation's late writes are refused, and its recv rejects", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1 });
    try {
      const late = fn(
        "late",
        `async (ctx) => {
          await ctx.send("started", ctx.id());
          try { await ctx.recv({ timeoutMs: 60000 }); } catch (e) { globalThis.__recv = e.code; }
          try { await ctx.put("late", 1); } catch (e) { globalThis.__put = e.code; }
        }`,
      );
      const started = host.sends("started", 1);
      const running = run(pool, late, [], "late-1");
      await started;
      pool.cancel("late-1", new CancelledError("stop"));
      await assert.rejects(running, { code: "CANCELLED" });
      const noted = await run(pool, "() => [globalThis.__recv, globalThis.__put]");
      assert.deepEqual(noted, ["CANCELLED", "CANCELLED"]);
      assert.equal(host.store.has("late"), false, "the late put never reached the host");
      assert.equal(host.log.filter((l) => l.op === "put").length, 0);
    } finally {
      await pool.close();
    }
  });

  it("cancelling a caller aborts the signal its nested call was given", async () => {
    const { pool, host } = await startPool({ defaultConcurrency: 1, size: 1 });
    try {
      let release!: (v: unknown) => void;
      let called!: () => void;
      const calling = new Promise<void>((r) => (called = r));
      host.functions.set("inner", () => {
        called();
        return new Promise((r) => (release = r));
      });
      const running = run(pool, fn("caller", "async (ctx) => ctx.call('inner', [])"), [], "c-1");
      await calling;
      const signal = host.log.find((l) => l.op === "call")?.inv.signal;
      assert.ok(signal !== undefined && !signal.aborted, "the nested call got a live signal");
      pool.cancel("c-1", new CancelledError("caller lost"));
      await assert.rejects(running, { code: "CANCELLED" });
      assert.equal(signal.aborted, true, "so the node cancels the nested run");
      assert.equal((signal.reason as Error).message, "caller lost");
      release(1);
      assert.equal(await run(pool, "() => 3"), 3);
    } finally {
      await pool.close();
    }
  });

  it("a time limit aborts the signal too, and a function that stops keeps its worker", async () => {
    const { pool } = await startPool({ defaultConcurrency: 1, size: 1, cancelGraceMs: 20_000 });
    try {
      const [worker] = (await run(pool, whoami)) as [number];
      const limited = { ...sleeper, name: "limited", timeoutMs: 200 };
      // Its "started" message goes to the host's mailbox; nobody waits for it here.
      await assert.rejects(run(pool, limited), { code: "FUNCTION_TIMEOUT" });
      assert.deepEqual(await run(pool, whoami), [worker, "FUNCTION_TIMEOUT"]);
    } finally {
      await pool.close();
    }
  });

  it("a call whose run's deadline passes is stopped then (TIMEOUT), not held until its own time limit", async () => {
    const { pool, host } = await startPool({
      defaultConcurrency: 1,
      size: 1,
      cancelGraceMs: 20_000,
    });
    try {
      const started = host.sends("started", 1);
      // Its own limit is a minute (the sleeper's default); its caller's run ends in 300 ms.
      const running = pool.invoke({
        id: "late",
        code: sleeper,
        args: [],
        deadline: Date.now() + 300,
      });
      await started;
      await assert.rejects(running, { code: "TIMEOUT" });
      // It saw its signal, settled, and the same worker serves the next call.
      const [, noted] = (await run(pool, whoami)) as [number, string];
      assert.equal(noted, "TIMEOUT");
    } finally {
      await pool.close();
    }
  });
});

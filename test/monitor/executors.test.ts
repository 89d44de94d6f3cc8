/**
 * Executor autoscaling on a real node: a function that sleeps 50 ms, 16 callers, a node that
 * starts with 1 executor (checked before the load starts). Under the load the monitor grows the
 * node to maxExecutors; once the load stops it shrinks back to minExecutors, and not before the
 * idle grace period. Waits follow the monitor's
 * decisions and the pool's own size, never fixed sleeps.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import { executorTarget, resolveMonitorOptions } from "../../src/monitor/index.js";
import type { MonitorDecision, NodeMemory } from "../../src/monitor/index.js";
import { until } from "../../testing/processes.js";

describe("monitor: executors grow under queued load and shrink after the grace period", () => {
  let proc: StratusProcess;
  let cloud: Stratus;
  let load = true;
  let loops: Promise<void>[] = [];

  before(async () => {
    proc = await StratusProcess.start({
      token: "t",
      executors: 1,
      stats: { intervalMs: 100 },
      monitor: { intervalMs: 200, minExecutors: 1, maxExecutors: 8, idleGraceMs: 1500 },
    });
    cloud = await Stratus.connect(proc.url, { token: "t" });
    const nap = async () => {
      await new Promise((r) => setTimeout(r, 50));
      return 1;
    };
    // One call per executor: 16 callers need more than the cap.
    await cloud.register("nap", nap, { concurrency: 1 });
    // Eight at once per executor: 16 callers are two executors' worth.
    await cloud.register("nap8", nap, { concurrency: 8 });
  });

  after(async () => {
    load = false;
    await Promise.all(loops);
    await cloud.close();
    await proc.close();
  });

  it("adds executors when calls queue, up to maxExecutors", async () => {
    const monitor = proc.monitor!;
    const grown = new Promise<MonitorDecision>((resolve) =>
      monitor.onDecision((d) => {
        if (d.kind === "executors" && d.to > d.from) resolve(d);
      }),
    );
    assert.equal(proc.node!.stats().pool.size, 1);
    loops = Array.from({ length: 16 }, async () => {
      while (load) await cloud.call("nap", []);
    });
    const d = await grown;
    assert.equal(d.target, proc.id);
    assert.equal(d.from, 1);
    assert.ok(d.to > 1 && d.to <= 8, `to ${d.to}`);
    assert.match(d.why, /calls/);
    // 16 callers need more than 8 at 75%: the node ends at the cap.
    await until(async () => proc.node!.stats().pool.size === 8, 10_000, "8 executors");
    assert.ok(monitor.acting);
  });

  it("removes them after the idle grace period, down to minExecutors", async () => {
    const monitor = proc.monitor!;
    const shrunk = new Promise<MonitorDecision>((resolve) =>
      monitor.onDecision((d) => {
        if (d.kind === "executors" && d.to < d.from) resolve(d);
      }),
    );
    load = false;
    await Promise.all(loops);
    const stoppedAt = performance.now();
    const d = await shrunk;
    // Not before the grace period: the node was idle for at least idleGraceMs when it shrank.
    assert.ok(performance.now() - stoppedAt >= 1500, "shrunk before the grace period");
    assert.equal(d.to, 1);
    await until(async () => proc.node!.stats().pool.size === 1, 10_000, "1 executor");
  });

  it("counts concurrency slots: 16 callers of a concurrency-8 function need 3 executors, not 8", async () => {
    const monitor = proc.monitor!;
    assert.equal(proc.node!.stats().pool.size, 1, "back to one executor (previous test)");
    const grown = new Promise<MonitorDecision>((resolve) =>
      monitor.onDecision((d) => {
        if (d.kind === "executors" && d.to > d.from) resolve(d);
      }),
    );
    load = true;
    loops = Array.from({ length: 16 }, async () => {
      while (load) await cloud.call("nap8", []);
    });
    const d = await grown;
    // 16 calls at 1/8 of an executor each are 2 executors' worth; at 75% that is 3. (Counting
    // calls, as before, the node grew to the cap of 8: the first test.)
    assert.ok(d.to >= 2 && d.to <= 3, `${d.from} -> ${d.to}: ${d.why}`);
    const rounds = monitor.counts.rounds;
    await until(async () => monitor.counts.rounds >= rounds + 5, 10_000, "five more rounds");
    const size = proc.node!.stats().pool.size;
    assert.ok(size >= 2 && size <= 3, `${size} executors under the same load`);
    load = false;
    await Promise.all(loops);
  });
});

describe("monitor: the executor policy", () => {
  const o = resolveMonitorOptions({ minExecutors: 1, maxExecutors: 64, idleGraceMs: 1000 });

  it("grows at once to what the calls need, capped at maxExecutors", () => {
    const mem: NodeMemory = {};
    const load = { executors: 1, inflight: 64, utilisation: 1, queueMs: 500 };
    assert.equal(executorTarget(load, mem, o, 0), 64);
    assert.equal(executorTarget({ ...load, inflight: 6 }, mem, o, 0), 8);
  });

  it("grows by at most scaleUpFactor per round when one is set", () => {
    const doubling = resolveMonitorOptions({ ...o, scaleUpFactor: 2 });
    const load = { executors: 1, inflight: 64, utilisation: 1, queueMs: 500 };
    assert.equal(executorTarget(load, {}, doubling, 0), 2);
    assert.equal(executorTarget({ ...load, executors: 8 }, {}, doubling, 0), 16);
    // Never past what the calls need.
    assert.equal(executorTarget({ ...load, executors: 48 }, {}, doubling, 0), 64);
    assert.equal(o.scaleUpFactor, Infinity);
    assert.throws(() => resolveMonitorOptions({ scaleUpFactor: 1 }), {
      code: "INVALID_ARGUMENT",
      message: /scaleUpFactor/,
    });
  });

  it("leaves a node alone below the thresholds, and shrinks only after the grace period", () => {
    const mem: NodeMemory = {};
    const quiet = { executors: 8, inflight: 1, utilisation: 0.1, queueMs: 0 };
    assert.equal(executorTarget(quiet, mem, o, 0), undefined);
    assert.equal(executorTarget({ ...quiet, inflight: 3 }, mem, o, 500), undefined);
    // The most needed during the grace period (3 calls at 75%: 4) is what it shrinks to.
    assert.equal(executorTarget(quiet, mem, o, 1000), 4);
    // Load in between starts the grace period again.
    assert.equal(executorTarget(quiet, mem, o, 2000), undefined);
    assert.equal(
      executorTarget({ ...quiet, executors: 4, inflight: 4, utilisation: 0.9 }, mem, o, 2500),
      6,
    );
    assert.equal(mem.lowSince, undefined);
  });

  it("grows on queueing delay alone", () => {
    const load = { executors: 4, inflight: 4, utilisation: 0.5, queueMs: 25 };
    assert.equal(executorTarget(load, {}, o, 0), 6);
    assert.equal(executorTarget({ ...load, queueMs: 5 }, {}, o, 0), undefined);
  });

  it("refuses bad options with the field named", () => {
    assert.throws(
      () => resolveMonitorOptions({ minExecutors: 4, maxExecutors: 2 }),
      /monitor\.maxExecutors/,
    );
    assert.throws(() => resolveMonitorOptions({ scaleUpUtilisation: 2 }), /scaleUpUtilisation/);
  });
});

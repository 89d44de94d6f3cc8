/**
 * Cancellation reaches nested calls: when an invocation is cancelled or reaches its time limit,
 * the runs it started with `ctx.call` are cancelled too (a `cancel` to their node), so a callee
 * waiting on its `ctx.signal` stops and frees its executor instead of running on for nobody.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess, Stratus } from "../../src/index.js";
import { until } from "../support/processes.js";

describe("cancellation of nested calls", () => {
  const token = "nested-cancel-token";
  let proc: StratusProcess;
  let cloud: Stratus;
  before(async () => {
    proc = await StratusProcess.start({ token, executors: 1 });
    cloud = await Stratus.connect(proc.url, { token });
  });
  after(async () => {
    await cloud.close();
    await proc.close();
  });

  it("a caller past its time limit cancels the call it is waiting on", async () => {
    // Runs until cancelled (its own time limit is the default minute).
    await cloud.register("inner", async (ctx) => {
      await new Promise((r) => ctx.signal.addEventListener("abort", r, { once: true }));
      return "stopped";
    });
    await cloud.register("outer", async (ctx) => ctx.call("inner", []), { timeoutMs: 500 });
    const node = proc.node!;
    assert.deepEqual(node.cancels, { received: 0, interrupted: 0, ignored: 0 });
    await assert.rejects(cloud.call("outer", []), { code: "FUNCTION_TIMEOUT" });
    // The node is told to cancel the nested run, and its invocation is interrupted.
    await until(async () => node.cancels.interrupted === 1, 10_000, "inner cancelled");
    assert.equal(node.cancels.received, 1);
    await until(async () => node.stats().pool.busy === 0, 10_000, "every executor free");
    // And the node serves on.
    await cloud.register("ok", async () => "ok");
    assert.equal(await cloud.call("ok", []), "ok");
  });
});

/**
 * A process closes idle connections (here after 50 ms instead of 10 minutes); the SDK opens a new
 * one on its next call, and node-to-node traffic goes on, without a node being reported lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/cluster/index.js";
import { until } from "../../testing/processes.js";

describe("runtime: idle connections", () => {
  const token = "idle-token";
  let proc: StratusProcess;
  let cloud: Stratus;

  before(async () => {
    proc = await StratusProcess.start({ token, executors: 1, idleTimeoutMs: 50 });
    cloud = await Stratus.connect(proc.url, { token });
    await cloud.register("inc", (_ctx, x: number) => x + 1);
  });
  after(async () => {
    await cloud.close();
    await proc.close();
  });

  it("the SDK reopens a connection the listener closed for idleness", async () => {
    assert.equal(await cloud.call("inc", [1]), 2);
    assert.equal(proc.connections, 1);
    await until(async () => proc.connections === 0, 5000, "the idle connection to close");
    assert.equal(await cloud.call("inc", [2]), 3);
    assert.equal(proc.connections, 1);
    // And again, several times over.
    for (let i = 0; i < 5; i++) {
      await until(async () => proc.connections === 0, 5000, "the idle connection to close");
      assert.deepEqual(await Promise.all([cloud.call("inc", [i]), cloud.get("missing")]), [
        i + 1,
        undefined,
      ]);
    }
  });
});

/**
 * A node killed mid-run loses no pinned version a live run needs: the node that runs the
 * timeline's first function (and pins what it read) is killed with SIGKILL while repeatable-read
 * runs are in flight. Runs whose downstream function can no longer fetch a pinned version fail
 * that attempt with NODE_LOST and are started again elsewhere; every run completes, and none
 * reads two versions of a key.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { runRetwis } from "../../testing/consistency/index.js";
import { startRetwisCluster } from "../../testing/consistency/cluster.js";
import type { RetwisCluster } from "../../testing/consistency/cluster.js";

describe("consistency: a pinning node killed mid-run", () => {
  let c: RetwisCluster;
  before(async () => {
    c = await startRetwisCluster();
  });
  after(async () => {
    await c.stop();
  });

  it("every repeatable-read run completes, retried, and reads one version per key", async () => {
    const victim = c.nodes.get("fresh1");
    assert.ok(victim !== undefined);
    let leftAtKill = -1;
    let done = 0;
    const readers = 8;
    const r = await runRetwis(c.cloud, {
      ns: `kill-${randomUUID().slice(0, 6)}`,
      consistency: "repeatable-read",
      runs: 400,
      readers,
      onRun: () => {
        if (++done !== 100) return;
        // The other readers' runs are in flight now, their first reads pinned on the victim.
        leftAtKill = 400 - done;
        victim.proc.kill("SIGKILL");
      },
    });
    assert.ok(victim.proc.signalCode === "SIGKILL", "the node was killed");
    assert.ok(leftAtKill > 0, "runs were still to come when it died");
    assert.deepEqual(r.readErrors, {}, "every timeline run completed");
    assert.equal(r.tally.runs, 400);
    assert.equal(r.tally.violations("repeatable-read"), 0);
  });
});

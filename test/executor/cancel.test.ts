/**
 * Cancelling an invocation (the dataflow's losing replicas): one already posted behind a running
 * call is interrupted when it would start, so it never occupies the executor, while the call
 * ahead of it finishes untouched.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledError } from "../../src/errors/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { barrier, run, startPool } from "./memory-host.js";

describe("executor cancel", () => {
  it("a call posted behind a running one is interrupted when it starts, not run", async () => {
    const { pool, host } = await startPool({ size: 1, pipelineDepth: 2 });
    try {
      const started = host.sends("started", 1);
      const ahead = run(pool, barrier, [], "ahead");
      await started;
      // Posted behind `ahead` in the same worker (depth 2): the worker already has it.
      const behind = run(pool, barrier, [], "behind");
      await new Promise((r) => setImmediate(r));
      assert.equal(pool.stats().posted, 2, "posted behind the running call");
      assert.equal(pool.cancel("behind", new CancelledError("lost the race")), true);
      host.deliver("ahead", encodeValue("go"));
      assert.deepEqual(await ahead, ["ahead", "go"]);
      await assert.rejects(behind, { code: "CANCELLED" });
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
});

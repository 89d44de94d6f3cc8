/**
 * A client outlives its connection: when the process it talks to restarts, calls in flight fail
 * with a retryable CLOSED error and the next call opens a new connection by itself.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore, Stratus, isStratusError } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { freePort } from "../../testing/redis.js";

describe("runtime: client reconnection", () => {
  it("reconnects after the scheduler restarts on the same address", async () => {
    const store = await MemoryStore.open();
    const port = await freePort();
    const token = "reconnect-token";
    const first = await StratusProcess.start({ token, store, port, executors: 1 });
    const cloud = await Stratus.connect(first.url, { token });
    try {
      await cloud.register("inc", async (_ctx, x: number) => x + 1);
      await cloud.register("hang", () => new Promise(() => undefined));
      assert.equal(await cloud.call("inc", [1]), 2);
      const inFlight = cloud.call("hang", []).then(
        () => assert.fail("a call whose scheduler went away cannot succeed"),
        (e: unknown) => e,
      );
      await first.close();
      const err = await inFlight;
      assert.ok(isStratusError(err) && err.code === "CLOSED" && err.retryable, String(err));

      const second = await StratusProcess.start({ token, store, port, executors: 1 });
      try {
        // Functions live in storage, so the new process knows them; the client reconnects.
        assert.equal(await cloud.call("inc", [41]), 42);
      } finally {
        await cloud.close();
        await second.close();
      }
    } finally {
      await store.close();
    }
  });
});

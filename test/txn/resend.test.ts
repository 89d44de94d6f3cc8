/**
 * A resend the client does not mark as a retry (its own retry loop, `retries: 0`, the same
 * request id) after an earlier attempt was fenced by a newer one that never finished (its node
 * died after the fence): the resend starts at epoch 1, finds the fence, and the scheduler runs
 * it again past the fence instead of failing it with TXN_FENCED on every resend.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/client/index.js";
import { HybridClock } from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import { RunTransactionService, TxnManager } from "../../src/txn/index.js";

describe("read-atomic: an unmarked resend after a fence", () => {
  let store: Store;
  let proc: StratusProcess;
  let cloud: Stratus;
  let other: TxnManager;

  before(async () => {
    store = await MemoryStore.open();
    proc = await StratusProcess.start({ token: "t", executors: 1, store });
    cloud = await Stratus.connect(proc.url, { token: "t" });
    await cloud.register("rs1", async (ctx, x: number) => {
      await ctx.put("rs/a", x);
      return x + 1;
    });
    await cloud.register("rs2", (_ctx, x: number) => x * 10);
    await cloud.registerDag("rs", { functions: ["rs1", "rs2"], edges: [["rs1", "rs2"]] });
    // Another scheduler's view of the same store: it fences epoch 1 as a relaunch would.
    other = await TxnManager.start({
      store,
      clock: new HybridClock({ node: "other" }),
      gcIntervalMs: 0,
      recoveryIntervalMs: 0,
    });
  });
  after(async () => {
    await cloud.close();
    await other.close();
    await proc.close();
    await store.close();
  });

  it("completes once, at a newer epoch", async () => {
    const req = "resend-1";
    const fenced = await new RunTransactionService(other, new HybridClock({ node: "o" })).begin(
      req,
      "rs",
      true,
    );
    assert.ok("session" in fenced, "epoch 1 fenced, the attempt that did it never runs");
    const opts = { consistency: "read-atomic" as const, requestId: req, retries: 0 };
    assert.equal(await cloud.callDag("rs", { rs1: [4] }, opts), 50);
    // It committed once: a further resend returns the recorded result without running.
    assert.equal(await cloud.callDag("rs", { rs1: [9] }, opts), 50);
    const tx = await cloud.txn.begin();
    assert.equal(await tx.get("rs/a"), 4);
  });
});

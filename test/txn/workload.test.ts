/**
 * The fault test's workload without faults, in one process over the memory store: what it writes
 * and reads adds up (a baseline for the fault test), and bad options are typed errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MemoryStore, Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { TxnWorkload, registerTxnCheck } from "../../testing/txn/index.js";
import { readFinal } from "../../testing/txn/fault-cluster.js";

describe("txn fault workload", () => {
  let store: MemoryStore;
  let proc: StratusProcess;
  let cloud: Stratus;
  before(async () => {
    store = await MemoryStore.open();
    proc = await StratusProcess.start({ token: "t", store, executors: 4 });
    cloud = await Stratus.connect(proc.url, { token: "t" });
    await registerTxnCheck(cloud);
  });
  after(async () => {
    await cloud.close();
    await proc.close();
    await store.close();
  });

  it("read-atomic without faults: every request counted once, every read whole (runs and client transactions)", async () => {
    const w = new TxnWorkload(cloud, {
      ns: "clean",
      consistency: "read-atomic",
      writers: 2,
      clientWriters: 1,
      writesPerWriter: 6,
      readers: 2,
    });
    await w.run();
    const { final } = await readFinal(store, w, "read-atomic");
    const r = w.checker.check(final);
    assert.deepEqual(
      [r.fracturedReads, r.dirtyReads, r.lostCommits, r.duplicatedEffects],
      [0, 0, 0, 0],
      r.examples.join("\n"),
    );
    assert.deepEqual([r.writes, r.acked, r.counterTotal], [18, 18, 18]);
    // Each group's final value is its lane's last request to it (lane 2 writes from the client).
    assert.deepEqual(final.groups.get("g0"), Array(4).fill("clean-w0-4"));
    assert.deepEqual(final.groups.get("g3"), Array(4).fill("clean-w1-5"));
    assert.deepEqual(final.groups.get("g5"), Array(4).fill("clean-c2-5"));
    assert.ok(r.reads > final.groups.size, "readers read while the writers wrote");
  });

  it("refuses bad options with INVALID_ARGUMENT", () => {
    const bad = [{ keys: 1 }, { writers: -1 }, { readers: 1.5 }, { ns: "has/slash" }];
    for (const o of bad) {
      assert.throws(
        () => new TxnWorkload(cloud, { ns: "x", consistency: "lww", ...o }),
        (e: unknown) => (e as { code?: string }).code === "INVALID_ARGUMENT",
        JSON.stringify(o),
      );
    }
  });
});

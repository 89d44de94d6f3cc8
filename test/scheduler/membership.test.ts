/**
 * Membership without pub/sub: a store whose change notifications are all lost (a wrapper around
 * a real MemoryStore that never delivers events, standing in for a subscriber connection that
 * missed them) still yields joins, keeps live nodes and expires dead ones, from polling alone.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HybridClock } from "../../src/lattice/index.js";
import { Heartbeat, Membership } from "../../src/scheduler/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import { until } from "../../testing/processes.js";

/** The store with every notification dropped. */
function deaf(store: Store): Store {
  return Object.assign(Object.create(store) as Store, {
    subscribe: () => Promise.resolve({ close: () => Promise.resolve() }),
  });
}

const info = (id: string) => () => ({
  id,
  addr: `stratus://127.0.0.1:1`,
  executors: 1,
  busy: 0,
  queued: 0,
  cached: [] as [string, number][],
  startedAt: 1,
});

describe("scheduler/membership without notifications", () => {
  it("joins, keeps live nodes, expires a silent one and deletes its record", async () => {
    const store = await MemoryStore.open();
    const clock = new HybridClock({ node: "t" });
    const members = await Membership.open(deaf(store), { expiryMs: 1_000, pollEveryMs: 100 });
    const lost: string[] = [];
    members.onLost((id) => lost.push(id));
    const live = new Heartbeat(store, clock, info("live"), 100);
    const doomed = new Heartbeat(store, clock, info("doomed"), 100);
    try {
      await Promise.all([live.start(), doomed.start()]);
      await until(async () => members.list().length === 2, 5_000, "both nodes seen by polling");
      // A crash: the beats stop and the record stays (the control).
      await doomed.stop(false);
      assert.ok((await store.get("sys/node/doomed")) !== undefined);
      await until(async () => lost.includes("doomed"), 10_000, "the silent node expired");
      await until(
        async () => (await store.get("sys/node/doomed")) === undefined,
        5_000,
        "its record deleted",
      );
      assert.deepEqual(lost, ["doomed"], "the live node was never dropped");
      assert.deepEqual(
        members.list().map((m) => m.id),
        ["live"],
      );
    } finally {
      await live.stop();
      await members.close();
      await store.close();
    }
  });

  it("an unchanged record is no sign of life: a node whose record stays put expires", async () => {
    const store = await MemoryStore.open();
    const clock = new HybridClock({ node: "t" });
    const hb = new Heartbeat(store, clock, info("frozen"), 60_000);
    await hb.start(); // one beat, then none for a minute
    const members = await Membership.open(deaf(store), { expiryMs: 500, pollEveryMs: 50 });
    try {
      assert.deepEqual(
        members.list().map((m) => m.id),
        ["frozen"],
      );
      await until(async () => members.list().length === 0, 5_000, "expiry despite re-reads");
    } finally {
      await hb.stop(false);
      await members.close();
      await store.close();
    }
  });
});

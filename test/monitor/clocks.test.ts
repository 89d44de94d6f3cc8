/**
 * The monitor and its lease judge liveness by what they see change, timed by their own
 * monotonic clock, and by the store's expiry: never by comparing another host's wall clock with
 * theirs. No process here can run with another wall clock, so the records that hosts with a
 * skewed clock write are written into a real store as those hosts would have written them.
 * - A lease holder whose clock is a minute behind keeps its lease (its `until` looked stale, and
 *   the other monitor deleted the lease and took it: both acted).
 * - A lease left without expiry by a holder whose clock ran ahead is cleared after twice its
 *   ttl of the finder's own time (it stayed until the holder's wall clock said so: an hour).
 * - A node whose clock lags still gets resized (its statistics looked 60 s old and were
 *   ignored), and one whose clock runs ahead stops counting once its record stops changing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HybridClock, LwwLattice } from "../../src/lattice/index.js";
import { LEASE_KEY, Lease, Monitor } from "../../src/monitor/index.js";
import type { MonitorDecision } from "../../src/monitor/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import { until } from "../../testing/processes.js";

const MINUTE = 60_000;

describe("lease without remote wall clocks", () => {
  it("a holder whose clock lags keeps its lease; the other never deletes it", async () => {
    const store = await MemoryStore.open();
    const clockA = new HybridClock({ node: "a" });
    try {
      const b = new Lease(store, new HybridClock({ node: "b" }), "b", 300);
      for (let round = 0; round < 5; round++) {
        // a renews, as a holder a minute behind wrote it: `until` is in b's past.
        const value = { holder: "a", until: Date.now() - MINUTE + 300 };
        await store.put(LEASE_KEY, LwwLattice.of(value, clockA.now()));
        await store.expire(LEASE_KEY, 300);
        assert.equal(await b.hold(), false, `round ${round}: b took a live lease`);
        const cur = await store.get(LEASE_KEY);
        assert.ok(cur instanceof LwwLattice, `round ${round}: b deleted a's live lease`);
        assert.equal(cur.value<{ holder: string }>().holder, "a");
      }
    } finally {
      await store.close();
    }
  });

  it("a lease left without expiry is cleared after twice its ttl of the finder's time", async () => {
    const store = await MemoryStore.open();
    try {
      // Its holder, with a clock an hour ahead, died between putIfAbsent and expire.
      const value = { holder: "a", until: Date.now() + 60 * MINUTE };
      assert.ok(
        await store.putIfAbsent(
          LEASE_KEY,
          LwwLattice.of(value, new HybridClock({ node: "a" }).now()),
        ),
      );
      const b = new Lease(store, new HybridClock({ node: "b" }), "b", 100);
      const t0 = performance.now();
      await until(() => b.hold(), 10_000, "b to take the abandoned lease");
      assert.ok(performance.now() - t0 >= 200, "not before it stayed unchanged for 2 × ttl");
      assert.ok(b.held);
    } finally {
      await store.close();
    }
  });
});

/** What a node publishes under `sys/stats/<id>`, taken at `at` by its own wall clock. */
async function publish(store: Store, clock: HybridClock, id: string, at: number): Promise<void> {
  const rec = {
    v: 1,
    id,
    at,
    ms: 500,
    node: {
      executors: 1,
      busy: 1,
      inflight: 8,
      utilisation: 1,
      hits: 0,
      misses: 0,
      wHits: 0,
      wMisses: 0,
      cacheKeys: 0,
      cacheBytes: 0,
      addr: `stratus://127.0.0.1:1/${id}`,
    },
  };
  await store.put(`sys/stats/${id}`, LwwLattice.of(rec, clock.now()));
}

describe("monitor without remote wall clocks", () => {
  async function monitorOver(store: Store): Promise<{ m: Monitor; resized: string[] }> {
    const resized: string[] = [];
    const m = Monitor.start(
      {
        id: "mon",
        store,
        clock: new HybridClock({ node: "mon" }),
        // The node itself is not run here: the monitor's request to it is recorded.
        resize: (node) => {
          resized.push(node.id);
          return Promise.resolve();
        },
      },
      // Rounds are run by the test (tick), not by the timer.
      { intervalMs: 3_600_000, maxExecutors: 8 },
    );
    await m.tick();
    return { m, resized };
  }

  it("resizes a busy node whose clock lags a minute, as it does one whose clock is right", async () => {
    const store = await MemoryStore.open();
    const clock = new HybridClock({ node: "nodes" });
    const { m, resized } = await monitorOver(store);
    const grown = (id: string): boolean =>
      m.decisions.some((d: MonitorDecision) => d.target === id && d.to > d.from);
    try {
      for (let round = 0; round < 3; round++) {
        await publish(store, clock, "right", Date.now());
        await publish(store, clock, "lagging", Date.now() - MINUTE);
        await m.tick();
      }
      assert.ok(grown("right"), "control: the node with the right clock grows");
      assert.ok(grown("lagging"), `the lagging node grows too (resized: ${resized.join(", ")})`);
    } finally {
      await m.close();
      await store.close();
    }
  });

  it("stops counting a node whose clock runs ahead once its record stops changing", async () => {
    const store = await MemoryStore.open();
    const clock = new HybridClock({ node: "nodes" });
    const { m, resized } = await monitorOver(store);
    try {
      // Its last record, taken a minute ahead of this host's clock; then it died.
      await publish(store, clock, "ahead", Date.now() + MINUTE);
      await m.tick();
      assert.deepEqual(resized, ["ahead"], "control: while fresh, it is resized");
      await until(
        async () => {
          const before = resized.length;
          await m.tick();
          return resized.length === before;
        },
        15_000,
        "the silent node no longer counted",
      );
    } finally {
      await m.close();
      await store.close();
    }
  });
});

/**
 * The node cache: byte-bounded LRU, invalidated by the store's change stream, read-your-writes,
 * and no stale fill when an invalidation races with a fetch. Runs on the memory store (in-process
 * change stream) and on Redis (keyspace notifications from a second client).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { HybridClock, LwwLattice } from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import { NodeCache } from "../../src/cache/index.js";
import { BackendFixture } from "../../testing/backends.js";

const clock = new HybridClock({ node: "cache-test" });
const lww = (v: unknown): LwwLattice => LwwLattice.of(v, clock.now());
const value = (l: Lattice | undefined): unknown => (l as LwwLattice | undefined)?.value();

/** Resolves once `cache` no longer holds `key` (its invalidation arrived). */
async function invalidated(cache: NodeCache, key: string): Promise<void> {
  while (cache.top().some(([k]) => k === key)) await new Promise((r) => setImmediate(r));
}

for (const backend of ["memory", "redis"] as const) {
  describe(`node cache over ${backend}`, () => {
    const fixture = new BackendFixture(backend);
    after(() => fixture.teardown());

    // Over Redis the change stream also reports this cache's own writes, a moment later; the
    // exact eviction order is checked where events are synchronous.
    if (backend === "memory") {
      it("evicts the least recently used keys past its byte bound", async () => {
        const store = await fixture.open();
        const cache = await NodeCache.open(store, { maxBytes: 3 * 1100 });
        for (const k of ["a", "b", "c", "d"]) await store.put(`lru/${k}`, lww("x".repeat(1000)));
        for (const k of ["a", "b", "c"]) await cache.get(`lru/${k}`);
        await cache.get("lru/a"); // a is now the most recent
        await cache.get("lru/d");
        const held = cache
          .top()
          .map(([k]) => k)
          .sort();
        assert.deepEqual(held, ["lru/a", "lru/c", "lru/d"]);
        assert.ok(cache.size.bytes <= 3 * 1100);
        await cache.close();
      });
    }

    it("reads its own writes and drops keys another client changes", async () => {
      const [store, other] = [await fixture.open(), await fixture.open()];
      const cache = await NodeCache.open(store, {});
      await cache.put("k", lww(1));
      assert.equal(value(await cache.get("k")), 1);
      const hits = cache.hits;
      assert.equal(value(await cache.get("k")), 1);
      assert.equal(cache.hits, hits + 1, "second read served from the cache");
      await other.put("k", lww(2));
      await invalidated(cache, "k");
      assert.equal(value(await cache.get("k")), 2);
      await cache.close();
    });

    it("does not cache a value fetched while an invalidation for it arrived", async () => {
      const [store, other] = [await fixture.open(), await fixture.open()];
      const cache = await NodeCache.open(store, {});
      await other.put("race", lww("old"));
      const fetching = cache.get("race");
      await other.put("race", lww("new"));
      await fetching;
      // Whatever the fetch saw, once the change stream has spoken the cache serves "new".
      for (let i = 0; i < 200 && value(await cache.get("race")) !== "new"; i++) {
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(value(await cache.get("race")), "new");
      await cache.close();
    });
  });
}

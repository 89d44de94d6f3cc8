/**
 * The cache holds what storage holds, or nothing: after a write it keeps only what the store
 * says the key holds, a write that lost a last-writer-wins merge leaves no trace, and a change
 * announced while a write is in flight wins over the write's own answer. On every backend.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CounterLattice, HybridClock, LwwLattice } from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import { NodeCache } from "../../src/cache/index.js";
import type { ChangeEvent, Store } from "../../src/storage/index.js";
import { BackendFixture } from "../../testing/backends.js";
import type { BackendName } from "../../testing/backends.js";

const value = (l: Lattice | undefined): unknown => (l as LwwLattice | undefined)?.value();

/** A store whose puts complete at the backend and then wait for the test to release them. */
function gated(store: Store): { store: Store; applied: Promise<void>; release: () => void } {
  let release!: () => void;
  let applied!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const done = new Promise<void>((r) => (applied = r));
  const wrapped = Object.create(store) as Store;
  wrapped.put = async (key, v) => {
    const out = await store.put(key, v);
    applied();
    await gate;
    return out;
  };
  return { store: wrapped, applied: done, release };
}

/** Resolves with the first change event for `key` that `store` delivers. */
async function nextChange(store: Store, key: string): Promise<() => Promise<void>> {
  let seen!: () => void;
  const arrived = new Promise<void>((r) => (seen = r));
  const sub = await store.subscribe(key, (e: ChangeEvent) => {
    if (e.kind !== "reset" && e.key === key) seen();
  });
  return async () => {
    await arrived;
    await sub.close();
  };
}

const BACKENDS: BackendName[] = ["memory", "memory-log", "redis", "redis-cluster"];

for (const backend of BACKENDS) {
  describe(`node cache holds what storage holds, over ${backend}`, () => {
    const fixture = new BackendFixture(backend);
    after(() => fixture.teardown());
    const ahead = new HybridClock({ node: "ahead", now: () => Date.now() + 10_000 });
    const behind = new HybridClock({ node: "behind", now: () => Date.now() - 10_000 });

    it("a write that loses the last-writer-wins merge leaves no trace in the cache", async () => {
      const [store, other] = [await fixture.open(), await fixture.open()];
      const cache = await NodeCache.open(store, {});
      await other.put("lost", LwwLattice.of("newer", ahead.now()));
      // The cache has never seen the key: all it could keep is what the store answers.
      await cache.put("lost", LwwLattice.of("older", behind.now()));
      assert.equal(value(await cache.get("lost")), "newer");
      assert.equal(value(await store.get("lost")), "newer");
      await cache.close();
    });

    it("a newer write announced while a put is in flight is not hidden by the put", async () => {
      const base = await fixture.open();
      const other = await fixture.open();
      const g = gated(base);
      const cache = await NodeCache.open(g.store, {});
      const key = "inflight";
      const put = cache.put(key, LwwLattice.of("mine", behind.now()));
      await g.applied;
      const changed = await nextChange(base, key);
      await other.put(key, LwwLattice.of("theirs", ahead.now()));
      await changed();
      g.release();
      await put;
      assert.equal(value(await cache.get(key)), "theirs");
      await cache.close();
    });

    it("an invalidation arriving while a put is in flight drops the key", async () => {
      const base = await fixture.open();
      const other = await fixture.open();
      const g = gated(base);
      const cache = await NodeCache.open(g.store, {});
      const key = "deleted";
      const put = cache.put(key, LwwLattice.of("mine", ahead.now()));
      await g.applied;
      const changed = await nextChange(base, key);
      await other.delete(key);
      await changed();
      g.release();
      await put;
      assert.equal(await cache.get(key), undefined);
      await cache.close();
    });

    it("after a counter merge the cache never holds the delta it sent", async () => {
      const [store, other] = [await fixture.open(), await fixture.open()];
      const cache = await NodeCache.open(store, {});
      await other.put("count", CounterLattice.delta(5));
      await cache.put("count", CounterLattice.delta(1));
      const got = await cache.get("count");
      assert.equal((got as CounterLattice).value, 6);
      await cache.close();
    });
  });
}

/**
 * `cache.top()`, which every heartbeat calls, costs no more for a cache of 50,000 keys than for
 * one of 2,000: it no longer sorts the whole cache on the main thread (1.3-2.8 s with 1,000,000
 * small keys). Work is counted, not timed: every step of a Map or Set iterator and every call of
 * a sort comparator made while `top` runs.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { NodeCache } from "../../src/cache/index.js";
import { HybridClock, LwwLattice } from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";

const clock = new HybridClock({ node: "top-test" });

/** Counts the iterator steps and sort comparisons `f` makes. */
function work<T>(f: () => T): { steps: number; result: T } {
  let steps = 0;
  const protos = [
    Object.getPrototypeOf(new Map().entries()) as { next: () => unknown },
    Object.getPrototypeOf(new Set().values()) as { next: () => unknown },
  ];
  const nexts = protos.map((p) => p.next);
  const sort = Array.prototype.sort;
  protos.forEach((p, n) => {
    const next = nexts[n] as () => unknown;
    p.next = function (this: unknown) {
      steps++;
      return next.call(this);
    };
  });
  Array.prototype.sort = function <U>(this: U[], cmp?: (a: U, b: U) => number): U[] {
    return sort.call(
      this,
      cmp &&
        ((a: U, b: U) => {
          steps++;
          return cmp(a, b);
        }),
    ) as U[];
  };
  try {
    const result = f();
    return { steps, result };
  } finally {
    protos.forEach((p, n) => (p.next = nexts[n] as () => unknown));
    Array.prototype.sort = sort;
  }
}

describe("cache.top", () => {
  const stores: MemoryStore[] = [];
  after(async () => {
    for (const s of stores) await s.close();
  });

  /** A cache of `n` keys whose sizes repeat every 300 keys, plus 3 large ones. */
  async function cacheOf(n: number): Promise<NodeCache> {
    const store = await MemoryStore.open();
    stores.push(store);
    const cache = await NodeCache.open(store, { prefix: "u/" });
    const fill = async (key: string, v: string): Promise<void> => {
      await store.put(key, LwwLattice.of(v, clock.now()));
      await cache.get(key);
    };
    for (let k = 0; k < n; k++) await fill(`u/k${k}`, "x".repeat(k % 300));
    for (const [k, len] of [
      ["big1", 50_000],
      ["big2", 70_000],
      ["big3", 60_000],
    ] as const) {
      await fill(`u/${k}`, "y".repeat(len));
    }
    return cache;
  }

  it("costs at most a few steps per key returned, at 2,000 keys as at 50,000, and returns the largest keys", async () => {
    const counted: Record<number, number> = {};
    for (const n of [2_000, 50_000]) {
      const cache = await cacheOf(n);
      const { steps, result } = work(() => cache.top(256));
      counted[n] = steps;
      // The answer is the exact top: the three large keys, then the next sizes down.
      assert.deepEqual(
        result.slice(0, 3).map(([k]) => k),
        ["big2", "big3", "big1"],
      );
      assert.equal(result.length, 256);
      const sizes = result.map(([, b]) => b);
      assert.deepEqual(
        sizes,
        [...sizes].sort((a, b) => b - a),
      );
      assert.ok(!result.some(([k]) => k.startsWith("u/")), "named without the prefix");
      // Control: a full sort of the same keys, counted the same way, grows with the cache.
      const all = [...Array(n).keys()];
      const full = work(() => all.sort((a, b) => (b % 300) - (a % 300))).steps;
      assert.ok(full > n, `a full sort of ${n} keys took ${full} steps`);
    }
    // At most a step per key returned and two per size visited, however large the cache.
    for (const n of [2_000, 50_000]) {
      const steps = counted[n] ?? Infinity;
      assert.ok(steps > 0 && steps <= 3 * 256, `top at ${n} keys: ${steps} steps`);
    }
  });
});

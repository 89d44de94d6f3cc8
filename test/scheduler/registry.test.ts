/**
 * The registry's local copy is bounded, and names every object answers to are refused.
 * - A caller trying 20,000 names that do not exist leaves at most 1,000 behind (before: 20,000,
 *   kept for good), over a real Redis through a real gateway.
 * - A name remembered as missing is forgotten after its age bound, so a registration whose
 *   notice was lost (a store wrapper that drops notifications, standing in for a subscriber
 *   connection that missed them) is found; without the bound it stayed hidden.
 * - `__proto__` and the other names of `Object.prototype` are refused at registration with a
 *   clear error; before, `__proto__` was accepted and its calls waited for their deadline.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { HybridClock } from "../../src/lattice/index.js";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { Registry } from "../../src/scheduler/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import { until } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const token = "registry-token";

/** The store with every notification dropped. */
function deaf(store: Store): Store {
  return Object.assign(Object.create(store) as Store, {
    subscribe: () => Promise.resolve({ close: () => Promise.resolve() }),
  });
}

describe("registry bounds and names, through a gateway over Redis", () => {
  let own: RedisServer | undefined;
  let proc: StratusProcess;
  let cloud: Stratus;
  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=reg-${randomUUID().slice(0, 8)}:`;
    proc = await StratusProcess.start({ token, store, executors: 1 });
    cloud = await Stratus.connect(proc.url, { token });
  });
  after(async () => {
    await cloud?.close();
    await proc?.close();
    await own?.stop();
  });

  it("20,000 unknown function names leave at most 1,000 remembered", async () => {
    let next = 0;
    const codes = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 20_000) {
          const n = next++;
          const code = await cloud.call(`nope-${n}`, []).then(
            () => "ok",
            (e: unknown) => (e as { code?: string }).code ?? String(e),
          );
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
    assert.deepEqual([...codes], [["NO_SUCH_FUNCTION", 20_000]]);
    const held = proc.registry.held.fns;
    assert.ok(held.missing <= 1_000, `${held.missing} unknown names remembered`);
    assert.ok(held.missing > 0, "misses are remembered (a repeated bad name costs no read)");
    // A remembered miss does not hide a registration: the change stream forgets it.
    await assert.rejects(cloud.call("late", [1]), { code: "NO_SUCH_FUNCTION" });
    await cloud.register("late", async (ctx, x: number) => x + 1);
    await until(
      async () => (await cloud.call("late", [1]).catch(() => 0)) === 2,
      10_000,
      "late found",
    );
  });

  it("refuses __proto__ and the other Object.prototype names as function and DAG names", async () => {
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"]) {
      await assert.rejects(
        cloud.register(name, async (ctx, x: number) => x + 1),
        (e: unknown) => {
          assert.equal((e as { code?: string }).code, "BAD_DAG", String(e));
          assert.match(String(e), new RegExp(`function name "${name}" is reserved`));
          return true;
        },
        name,
      );
      await assert.rejects(cloud.call(name, [1]), { code: "BAD_DAG", message: /reserved/ });
      await assert.rejects(cloud.registerDag(name, { functions: ["inc"] }), {
        code: "BAD_DAG",
        message: new RegExp(`DAG name "${name}" is reserved`),
      });
    }
    // Names that merely contain one are fine.
    await cloud.register("my__proto__", async (ctx, x: number) => x + 1);
    assert.equal(await cloud.call("my__proto__", [1]), 2);
  });
});

describe("registry age bound on remembered misses", () => {
  it("finds a registration whose change notice was lost once the miss ages out", async () => {
    const store = await MemoryStore.open();
    const clock = new HybridClock({ node: "reg-test" });
    const bounded = await Registry.open(deaf(store), clock, { missingTtlMs: 200 });
    // Control: what a remembered miss did before, kept for good.
    const forever = await Registry.open(deaf(store), clock, { missingTtlMs: 3_600_000 });
    const writer = await Registry.open(store, clock);
    try {
      for (const r of [bounded, forever]) {
        await assert.rejects(r.fn("quiet"), { code: "NO_SUCH_FUNCTION" });
      }
      await writer.putFunction({ name: "quiet", kind: "source", source: "(ctx, x) => x" });
      await until(
        async () => (await bounded.fn("quiet").catch(() => undefined)) !== undefined,
        10_000,
        "the registration seen once the miss aged out",
      );
      await assert.rejects(forever.fn("quiet"), { code: "NO_SUCH_FUNCTION" });
    } finally {
      await Promise.all([bounded.close(), forever.close(), writer.close()]);
      await store.close();
    }
  });

  it("removing a function removes its version history too", async () => {
    const store = await MemoryStore.open();
    const registry = await Registry.open(store, new HybridClock({ node: "reg-test" }));
    try {
      await registry.putFunction({ name: "gone", kind: "source", source: `(ctx) => 1` });
      await registry.putFunction({ name: "gone", kind: "source", source: `(ctx) => 2` });
      assert.equal((await registry.versions("gone")).length, 2);
      assert.equal(await registry.removeFunction("gone"), true);
      assert.deepEqual(await registry.versions("gone"), []);
    } finally {
      await registry.close();
      await store.close();
    }
  });

  it("keeps at most maxFound definitions, and still serves the others from storage", async () => {
    const store = await MemoryStore.open();
    const clock = new HybridClock({ node: "reg-test" });
    const writer = await Registry.open(store, clock);
    const reader = await Registry.open(store, clock, { maxFound: 2 });
    try {
      for (const n of ["a", "b", "c", "d"]) {
        await writer.putFunction({ name: n, kind: "source", source: `(ctx) => "${n}"` });
      }
      for (const n of ["a", "b", "c", "d", "a"]) assert.equal((await reader.fn(n)).name, n);
      assert.deepEqual(reader.held.fns, { found: 2, missing: 0 });
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      await store.close();
    }
  });
});

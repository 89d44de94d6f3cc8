/**
 * The state view's listing over a real memory store and a real Redis: pages of keys with kind,
 * size and preview, a cursor that walks on to the end, and a bound on what one request costs
 * whatever its cursor: scan steps on Redis (counted), matching keys walked on a store without
 * steps. And the wire shape of per-function timings.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_LISTED, MAX_STEPS, listKeys } from "../../src/dashboard/index.js";
import { HybridClock, LwwLattice, lattices } from "../../src/lattice/index.js";
import { isRunResult, isTrigger } from "../../src/protocol/index.js";
import type { Trigger } from "../../src/protocol/index.js";
import { MemoryStore, RedisStore } from "../../src/storage/index.js";
import { RedisServer } from "../../testing/redis.js";

describe("dashboard: state listing", () => {
  let store: MemoryStore;
  const clock = new HybridClock();

  before(async () => {
    store = await MemoryStore.open();
    const many: [string, LwwLattice][] = [];
    for (let i = 0; i < 1500; i++) many.push([`u/big/${i}`, LwwLattice.of(i, clock.now())]);
    await store.putMany(many);
    await store.put("u/small/text", LwwLattice.of({ hello: "world".repeat(100) }, clock.now()));
    await store.put("u/small/count", lattices.counter(7));
    await store.put("u/small/tags", lattices.set(["x", "y"]));
    await store.put("sys/secret", LwwLattice.of("not a user key", clock.now()));
  });

  after(async () => {
    await store.close();
  });

  it("shows each key's kind, size and a preview cut to length, and only user keys", async () => {
    const page = await listKeys(store, { prefix: "small/" });
    const by = new Map(page.keys.map((k) => [k.key, k]));
    assert.deepEqual([...by.keys()].sort(), ["small/count", "small/tags", "small/text"]);
    assert.equal(by.get("small/count")?.kind, "counter");
    assert.equal(by.get("small/count")?.preview, "7");
    assert.equal(by.get("small/tags")?.kind, "set");
    const text = by.get("small/text");
    assert.equal(text?.kind, "lww");
    assert.ok((text?.bytes ?? 0) > 500, "the size is the whole value's");
    assert.ok((text?.preview.length ?? 0) <= 200 && text?.preview.endsWith("…"), "cut");
    assert.equal(page.next, null);
    const all = await listKeys(store, { prefix: "" });
    assert.ok(!all.keys.some((k) => k.key.includes("secret")), "system keys are not listed");
  });

  it("pages through with the cursor, each key once", async () => {
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await listKeys(store, {
        prefix: "big/1",
        limit: 200,
        ...(cursor && { cursor }),
      });
      assert.ok(page.keys.length <= 200);
      for (const k of page.keys) seen.add(k.key);
      pages++;
      if (page.next === null) break;
      cursor = page.next;
    }
    // big/1, big/10…19, big/100…199, big/1000…1499
    assert.equal(seen.size, 1 + 10 + 100 + 500);
    assert.equal(pages, Math.ceil(seen.size / 200));
  });

  it("refuses a page size past the limit", async () => {
    await assert.rejects(listKeys(store, { prefix: "", limit: 201 }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(listKeys(store, { prefix: "", limit: 0 }), { code: "INVALID_ARGUMENT" });
  });

  it("without scan steps, walks at most MAX_LISTED matching keys, whatever the cursor", async () => {
    const big: [string, LwwLattice][] = [];
    for (let i = 0; i < MAX_LISTED + 100; i++)
      big.push([`u/huge/${i}`, LwwLattice.of(i, clock.now())]);
    await store.putMany(big);
    let walked = 0;
    // The same store with its plain scan only, counting the keys the scan yields.
    const plain = {
      getMany: (keys: readonly string[]) => store.getMany(keys),
      scan: (prefix: string) => ({
        async *[Symbol.asyncIterator]() {
          for await (const k of store.scan(prefix)) {
            walked++;
            yield k;
          }
        },
      }),
    };
    const first = await listKeys(plain, { prefix: "huge/" });
    assert.ok(walked <= 51, `the first page walked ${walked} keys`);
    assert.equal(first.capped, false);
    walked = 0;
    const cursor = String(MAX_LISTED - 50);
    const last = await listKeys(plain, { prefix: "huge/", cursor, limit: 200 });
    assert.ok(walked <= MAX_LISTED + 1, `walked ${walked}`);
    assert.equal(last.capped, true, "it says the listing stopped at its bound");
    assert.equal(last.next, null);
    await assert.rejects(listKeys(plain, { prefix: "", cursor: String(MAX_LISTED) }), {
      code: "INVALID_ARGUMENT",
    });
    await assert.rejects(listKeys(plain, { prefix: "", cursor: "abc" }), {
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("dashboard: state listing on Redis", () => {
  let redis: RedisServer;
  let store: RedisStore;
  const clock = new HybridClock();

  before(async () => {
    redis = await RedisServer.start();
    store = await RedisStore.connect({ url: redis.url });
    const many: [string, LwwLattice][] = [];
    for (let i = 0; i < 5000; i++) many.push([`u/other/${i}`, LwwLattice.of(i, clock.now())]);
    await store.putMany(many);
    for (const k of ["u/rare/a", "u/rare/b", "u/rare/c"]) {
      await store.put(k, LwwLattice.of(k, clock.now()));
    }
  });

  after(async () => {
    await store.close();
    await redis.stop();
  });

  it("a prefix few keys match costs a bounded number of scan steps per request", async () => {
    let steps = 0;
    const counted = {
      getMany: (keys: readonly string[]) => store.getMany(keys),
      scan: (prefix: string) => store.scan(prefix),
      scanStep: (prefix: string, cursor: string, count: number) => {
        steps++;
        return store.scanStep(prefix, cursor, count);
      },
    };
    const found = new Set<string>();
    let cursor: string | undefined;
    let requests = 0;
    for (;;) {
      steps = 0;
      const page = await listKeys(counted, {
        prefix: "rare/",
        limit: 10,
        ...(cursor && { cursor }),
      });
      requests++;
      assert.ok(steps <= MAX_STEPS, `one request made ${steps} steps`);
      for (const k of page.keys) found.add(k.key);
      if (page.next === null) break;
      cursor = page.next;
    }
    assert.deepEqual([...found].sort(), ["rare/a", "rare/b", "rare/c"]);
    assert.ok(requests > 1, "the 5,003 keys took more than one bounded request to walk");
    await assert.rejects(listKeys(counted, { prefix: "", cursor: "not-a-cursor" }), {
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("protocol: per-function timings", () => {
  const meta = {
    run: "r1",
    attempt: 0,
    consistency: "lww",
    deadline: Date.now() + 1000,
    reply: { addr: "stratus://127.0.0.1:1", req: 1 },
    session: {},
  };
  const schedule = { f: { node: "n1", addr: "stratus://127.0.0.1:2", next: [], prev: [] } };
  const trigger = (timings: unknown): Trigger =>
    ({ meta, schedule, fn: "f", args: [], timings }) as unknown as Trigger;

  it("accepts well-formed timings on triggers and results, and refuses others", () => {
    const good = [{ fn: "f", node: "n1", s: 1, e: 2, ok: true }];
    assert.equal(isTrigger({ meta, schedule, fn: "f", args: [] }), true, "timings are optional");
    assert.equal(isTrigger(trigger(good)), true);
    assert.equal(isTrigger(trigger([{ ...good[0], extra: 1 }])), false, "no unknown keys");
    assert.equal(isTrigger(trigger([{ fn: "f", node: "n1", s: "1", e: 2, ok: true }])), false);
    assert.equal(isTrigger(trigger(Array.from({ length: 5000 }, () => good[0]))), false, "bounded");
    assert.equal(isRunResult({ run: "r1", attempt: 0, req: 1, ok: true, timings: good }), true);
    assert.equal(isRunResult({ run: "r1", attempt: 0, req: 1, ok: true, timings: {} }), false);
  });
});

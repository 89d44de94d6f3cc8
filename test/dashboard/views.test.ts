/**
 * The state view's listing over a real memory store: pages of keys with kind, size and preview,
 * a cursor that walks on to the end, and a bound on how many keys one request walks whatever its
 * cursor (the scan is counted as it is consumed). And the wire shape of per-function timings.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_LISTED, listKeys } from "../../src/dashboard/index.js";
import { HybridClock, LwwLattice, lattices } from "../../src/lattice/index.js";
import { isRunResult, isTrigger } from "../../src/protocol/index.js";
import type { Trigger } from "../../src/protocol/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";

describe("dashboard: state listing", () => {
  let store: MemoryStore;
  const clock = new HybridClock();
  /** The same store, counting the keys each scan yields to its reader. */
  let walked = 0;
  let counted: Pick<Store, "scan" | "getMany">;

  before(async () => {
    store = await MemoryStore.open();
    const many: [string, LwwLattice][] = [];
    for (let i = 0; i < MAX_LISTED + 500; i++)
      many.push([`u/big/${i}`, LwwLattice.of(i, clock.now())]);
    await store.putMany(many);
    await store.put("u/small/text", LwwLattice.of({ hello: "world".repeat(100) }, clock.now()));
    await store.put("u/small/count", lattices.counter(7));
    await store.put("u/small/tags", lattices.set(["x", "y"]));
    await store.put("sys/secret", LwwLattice.of("not a user key", clock.now()));
    counted = {
      getMany: (keys) => store.getMany(keys),
      scan: (prefix) => ({
        async *[Symbol.asyncIterator]() {
          for await (const k of store.scan(prefix)) {
            walked++;
            yield k;
          }
        },
      }),
    };
  });

  after(async () => {
    await store.close();
  });

  it("shows each key's kind, size and a preview cut to length, and only user keys", async () => {
    const page = await listKeys(counted, { prefix: "small/" });
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
    const all = await listKeys(counted, { prefix: "" });
    assert.ok(!all.keys.some((k) => k.key.includes("secret")), "system keys are not listed");
  });

  it("pages through with the cursor, each key once", async () => {
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await listKeys(counted, {
        prefix: "big/1",
        limit: 200,
        ...(cursor && { cursor }),
      });
      for (const k of page.keys) seen.add(k.key);
      pages++;
      if (page.next === null) break;
      cursor = page.next;
    }
    // big/1, big/10…19, big/100…199, big/1000…1999, big/10000…10499
    assert.equal(seen.size, 1 + 10 + 100 + 1000 + 500);
    assert.equal(pages, Math.ceil(seen.size / 200));
  });

  it("walks at most MAX_LISTED keys in one request, whatever the cursor", async () => {
    walked = 0;
    const first = await listKeys(counted, { prefix: "" });
    assert.ok(walked <= 51, `the first page walked ${walked} keys`);
    walked = 0;
    const last = await listKeys(counted, {
      prefix: "",
      cursor: String(MAX_LISTED - 50),
      limit: 200,
    });
    assert.ok(walked <= MAX_LISTED + 1, `walked ${walked}`);
    assert.equal(last.capped, true, "it says the listing stopped at its bound");
    assert.equal(last.next, null);
    assert.equal(first.capped, false);
    await assert.rejects(listKeys(counted, { prefix: "", cursor: String(MAX_LISTED) }), {
      code: "INVALID_ARGUMENT",
    });
    await assert.rejects(listKeys(counted, { prefix: "", limit: 201 }), {
      code: "INVALID_ARGUMENT",
    });
    await assert.rejects(listKeys(counted, { prefix: "", cursor: "abc" }), {
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

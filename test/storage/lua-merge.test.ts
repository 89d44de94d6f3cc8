/**
 * The Redis backend merges inside Lua; these properties check that the Lua merges agree with the
 * TypeScript lattices on random inputs, for every kind, including nested maps.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Redis } from "ioredis";
import { isStratusError } from "../../src/errors/index.js";
import {
  MapLattice,
  MaxLattice,
  deletedState,
  isAbsent,
  latticeEquals,
  mergeLattices,
} from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import type { Store } from "../../src/storage/index.js";
import { byKind } from "../lattice/arbitraries.js";
import { BackendFixture } from "../../testing/backends.js";

describe("storage/redis Lua merges match the TypeScript lattices", () => {
  const fx = new BackendFixture("redis");
  let store: Store;
  let n = 0;
  before(async () => {
    store = await fx.open();
  });
  after(() => fx.teardown());

  /** The TypeScript model of a read: nothing for an absent lattice. */
  function shows(got: Lattice | undefined, want: Lattice | undefined): boolean {
    if (want === undefined || isAbsent(want)) return got === undefined;
    return got !== undefined && latticeEquals(got, want);
  }

  for (const [kind, arb] of Object.entries(byKind)) {
    it(`${kind}: put a, b, c in any order = merge(a, b, c)`, async () => {
      await fc.assert(
        fc.asyncProperty(arb, arb, arb, async (a, b, c) => {
          const key = `lua/${kind}/${n++}`;
          for (const v of [a, b, c]) await store.put(key, v);
          const got = await store.get(key);
          const want = mergeLattices(mergeLattices(a, b), c);
          assert.ok(shows(got, want));
        }),
        { numRuns: 60 },
      );
    });
  }

  for (const [kind, arb] of Object.entries(byKind)) {
    it(`${kind}: put a, delete, put or putIfAbsent b, put c = merge(deletedState(a), b, c)`, async () => {
      await fc.assert(
        fc.asyncProperty(arb, arb, arb, fc.boolean(), async (a, b, c, ifAbsent) => {
          const key = `lua-del/${kind}/${n++}`;
          await store.put(key, a);
          await store.delete(key);
          const left = deletedState(a);
          assert.ok(shows(await store.get(key), left), "a delete leaves what deletedState gives");
          if (ifAbsent) assert.equal(await store.putIfAbsent(key, b), true);
          else await store.put(key, b);
          const afterB = left === undefined ? b : mergeLattices(left, b);
          assert.ok(shows(await store.get(key), afterB), "b merges into what the delete left");
          await store.put(key, c);
          assert.ok(shows(await store.get(key), mergeLattices(afterB, c)), "and c after it");
        }),
        { numRuns: 40 },
      );
    });
  }

  it("a deleted counter or map of counters gives way to a write of another kind", async () => {
    const deletable = fc.oneof(byKind.counter, byKind.map);
    const other = fc.oneof(byKind.lww, byKind.set, byKind.max, byKind.oset, byKind.causal);
    await fc.assert(
      fc.asyncProperty(deletable, other, fc.boolean(), async (a, b, ifAbsent) => {
        const key = `lua-kind/${n++}`;
        await store.put(key, a);
        await store.delete(key);
        const left = deletedState(a);
        if (ifAbsent) assert.equal(await store.putIfAbsent(key, b), true);
        else await store.put(key, b);
        const want = left === undefined ? b : mergeLattices(left, b);
        assert.equal(want.kind, b.kind);
        assert.ok(shows(await store.get(key), want));
        // Nested: a map field holding a deleted counter takes another kind too.
        const doc = `lua-kind/doc/${n++}`;
        await store.put(doc, MapLattice.of({ f: a }));
        await store.delete(doc);
        await store.put(doc, MapLattice.of({ f: b }));
        const leftDoc = deletedState(MapLattice.of({ f: a }));
        const wantDoc = MapLattice.of({ f: b });
        assert.ok(
          shows(
            await store.get(doc),
            leftDoc === undefined ? wantDoc : mergeLattices(leftDoc, wantDoc),
          ),
        );
      }),
      { numRuns: 60 },
    );
  });

  it("a key holding data Stratus did not write gives BAD_ENCODING, not a crash", async () => {
    const raw = new Redis(await fx.redisUrl());
    await raw.set(`${fx.prefix}foreign`, "hello");
    await raw.set(`${fx.prefix}garbled`, Buffer.from([0x56, 0xc1, 0xff]));
    await raw.hset(`${fx.prefix}hash`, "x", "1");
    await raw.rpush(`${fx.prefix}list`, "a");
    raw.disconnect();
    const badEncoding = (e: unknown): boolean => isStratusError(e) && e.code === "BAD_ENCODING";
    for (const key of ["foreign", "garbled", "hash", "list"]) {
      await assert.rejects(store.get(key), badEncoding, `get ${key}`);
      await assert.rejects(store.put(key, new MaxLattice(1)), badEncoding, `put ${key}`);
    }
    // The server and the store are fine afterwards.
    await store.put("after-foreign", new MaxLattice(1));
    assert.equal(((await store.get("after-foreign")) as MaxLattice).value, 1);
  });

  it("a map with nested maps merges entry by entry", async () => {
    const a = MapLattice.of({ x: MapLattice.of({ y: new MaxLattice(1) }), z: new MaxLattice(1) });
    const b = MapLattice.of({ x: MapLattice.of({ y: new MaxLattice(5), w: new MaxLattice(2) }) });
    await store.put("lua/nested", a);
    await store.put("lua/nested", b);
    const got = (await store.get("lua/nested")) as Lattice;
    assert.ok(latticeEquals(got, mergeLattices(a, b)));
  });
});

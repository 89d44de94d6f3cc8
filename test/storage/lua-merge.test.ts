/**
 * The Redis backend merges inside Lua; these properties check that the Lua merges agree with the
 * TypeScript lattices on random inputs, for every kind, including nested maps.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Redis } from "ioredis";
import { isStratusError } from "../../src/errors/index.js";
import { MapLattice, MaxLattice, latticeEquals, mergeLattices } from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import type { Store } from "../../src/storage/index.js";
import { byKind } from "../lattice/arbitraries.js";
import { BackendFixture } from "../support/backends.js";

describe("storage/redis Lua merges match the TypeScript lattices", () => {
  const fx = new BackendFixture("redis");
  let store: Store;
  let n = 0;
  before(async () => {
    store = await fx.open();
  });
  after(() => fx.teardown());

  for (const [kind, arb] of Object.entries(byKind)) {
    it(`${kind}: put a, b, c in any order = merge(a, b, c)`, async () => {
      await fc.assert(
        fc.asyncProperty(arb, arb, arb, async (a, b, c) => {
          const key = `lua/${kind}/${n++}`;
          for (const v of [a, b, c]) await store.put(key, v);
          const got = await store.get(key);
          const want = mergeLattices(mergeLattices(a, b), c);
          assert.ok(got !== undefined && latticeEquals(got, want));
        }),
        { numRuns: 60 },
      );
    });
  }

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

/**
 * Values round-trip as structuredClone gives them (Map, Set, Date, BigInt, typed arrays), through
 * the codec, a function's arguments and result, and a stored key; a Map used to come back as a
 * plain object. The exceptions the README names are checked too, so they stay true.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";

const VALUES: [string, unknown][] = [
  [
    "Map",
    new Map<unknown, unknown>([
      ["a", 1],
      [2, "b"],
      [{ k: 1 }, [3]],
    ]),
  ],
  ["nested Map", { m: new Map([["inner", new Map([[1, new Set([new Map([[1n, 2]])])]])]]) }],
  ["Set", new Set([1, "x", new Date(7)])],
  ["Date", new Date(1_800_000_000_123)],
  ["BigInt", [5n, 2n ** 63n - 1n, -(2n ** 100n)]],
  ["typed arrays", [new Float64Array([1.5, 2]), new BigInt64Array([1n]), new Uint16Array([9])]],
  ["plain", { a: [1, "two", null, true], b: { c: undefined } }],
];

const same = (a: unknown, b: unknown): boolean => isDeepStrictEqual(a, b);

describe("lattice: values round-trip as structuredClone does", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 1, token: "values" });
    await cloud.register("echo", (_ctx, v: unknown) => v);
    await cloud.register("kinds", (_ctx, v: unknown) =>
      v instanceof Map ? `Map of ${v.size}` : Object.prototype.toString.call(v),
    );
  });
  after(async () => {
    await cloud.close();
  });

  it("through the codec", () => {
    for (const [what, v] of VALUES) {
      assert.ok(same(decodeValue(encodeValue(v)), structuredClone(v)), what);
    }
  });

  it("through a function's arguments and result, and a stored key", async () => {
    for (const [what, v] of VALUES) {
      assert.ok(same(await cloud.call("echo", [v]), structuredClone(v)), `${what} via call`);
      await cloud.put(`values/${what}`, v);
      assert.ok(same(await cloud.get(`values/${what}`), structuredClone(v)), `${what} via kv`);
    }
    // The function itself sees a Map, not a plain object.
    assert.equal(await cloud.call("kinds", [new Map([[1, 2]])]), "Map of 1");
  });

  it("keeps the exceptions the README names", () => {
    assert.ok(Object.is(decodeValue(encodeValue(-0)), 0));
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    assert.deepEqual(decodeValue(encodeValue([1, , 3])), [1, undefined, 3]);
    assert.ok(Buffer.isBuffer(decodeValue(encodeValue(Buffer.from([1])))));
  });

  it("still reads a Map stored before the Map extension, as a plain object", () => {
    // The bytes an earlier version wrote for new Map([["a", 1]]): a msgpack map.
    const old = Uint8Array.from([0x81, 0xa1, 0x61, 0x01]);
    assert.deepEqual(decodeValue(old), { a: 1 });
  });
});

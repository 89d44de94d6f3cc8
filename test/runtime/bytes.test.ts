/**
 * Big values end to end: an 8 MiB tensor and an 8 MiB Buffer go through a call, a 2-function
 * DAG (fused into one worker, and unfused), put and get, and a reference read by a function, on
 * the memory store and on Redis, and come back intact, bit for bit.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus, ref } from "../../src/index.js";
import { BackendFixture } from "../../testing/backends.js";

const MIB = 1024 * 1024;

function tensor(seed: number): Float32Array {
  const t = new Float32Array((8 * MIB) / 4);
  for (let i = 0; i < t.length; i++) t[i] = ((i * 2654435761 + seed) >>> 0) / 2 ** 32;
  return t;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

for (const backend of ["memory", "redis"] as const) {
  describe(`runtime: 8 MiB values on ${backend}`, () => {
    const fixture = new BackendFixture(backend);
    let cloud: Stratus;
    before(async () => {
      const store = await fixture.open();
      cloud = await Stratus.local({ executors: 2, store, fuse: backend === "memory" });
      await cloud.register("pass", (_ctx, x: unknown) => x);
      await cloud.register("bump", (_ctx, x: Float32Array) => {
        const y = x.slice();
        y[0] = (y[0] ?? 0) + 1;
        return y;
      });
      await cloud.register("sum", (_ctx, x: Float32Array) => {
        let s = 0;
        for (let i = 0; i < x.length; i += 4096) s += x[i] ?? 0;
        return s;
      });
      await cloud.registerDag("two", { functions: ["pass", "bump"], edges: [["pass", "bump"]] });
    });
    after(async () => {
      await cloud.close();
      await fixture.teardown();
    });

    it("round-trips a tensor and a Buffer through call and a DAG", async () => {
      const t = tensor(1);
      const back = await cloud.call<Float32Array>("pass", [t]);
      assert.ok(back instanceof Float32Array);
      assert.ok(sameBytes(back, t));
      const buf = Buffer.from(tensor(2).buffer);
      const b = await cloud.call<Uint8Array>("pass", [buf]);
      assert.ok(sameBytes(b, buf));
      const out = await cloud.callDag<Float32Array>("two", { pass: [t] });
      assert.equal(out[0], Math.fround((t[0] ?? 0) + 1));
      assert.ok(sameBytes(out.subarray(1), t.subarray(1)));
      assert.ok(sameBytes(t, tensor(1)), "the caller's tensor is unchanged");
    });

    it("round-trips a tensor through put and get, and a reference a function reads", async () => {
      const t = tensor(3);
      await cloud.put("big", t);
      const back = await cloud.get<Float32Array>("big");
      assert.ok(back instanceof Float32Array && sameBytes(back, t));
      let expect = 0;
      for (let i = 0; i < t.length; i += 4096) expect += t[i] ?? 0;
      assert.equal(await cloud.call("sum", [ref("big")]), expect);
      assert.equal(await cloud.call("sum", [ref("big")]), expect, "again, from the caches");
      const again = (await cloud.get<Float32Array>("big")) as Float32Array;
      again[0] = 42;
      const third = (await cloud.get<Float32Array>("big")) as Float32Array;
      assert.ok(sameBytes(third, t), "gets never share memory");
    });
  });
}

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { LwwLattice, Stratus, isStratusError, openStore, ref } from "../../src/index.js";
import type { Store } from "../../src/index.js";
import type { FunctionDef } from "../../src/protocol/index.js";

describe("runtime: register with Standard Schema validators (zod)", () => {
  let cloud: Stratus;
  let store: Store;
  before(async () => {
    store = await openStore("memory:");
    cloud = await Stratus.local({ executors: 1, store });
  });
  after(async () => {
    await cloud.close();
  });

  /** The definition the gateway stored for function `name`. */
  async function storedDef(name: string): Promise<FunctionDef> {
    const l = await store.get(`sys/fn/${name}`);
    assert.ok(l instanceof LwwLattice, `${name} is stored`);
    return l.value<FunctionDef>();
  }

  const input = z.tuple([z.number(), z.object({ unit: z.string() })]);
  const output = z.string();

  it("types and checks a handle's arguments, naming the path of a mismatch", async () => {
    const show = await cloud.register("show", (_ctx, n, fmt) => `${n} ${fmt.unit}`, {
      input,
      output,
    });
    assert.equal(await show.call(3, { unit: "kg" }), "3 kg");
    // The control: the same bad arguments by name reach the function, which runs on them.
    assert.equal(await cloud.call("show", [3, { unit: 4 }]), "3 4");
    for (const attempt of [
      () => show.call(3, { unit: 4 } as never),
      () => cloud.call(show, [3, { unit: 4 } as never]),
    ]) {
      await assert.rejects(attempt, (e: unknown) => {
        assert.ok(isStratusError(e));
        assert.equal(e.code, "INVALID_ARGUMENT");
        assert.match(e.message, /^show: args\[1\]\.unit: /);
        assert.deepEqual(e.details?.path, "args[1].unit");
        return true;
      });
    }
    // A reference's value is read on the executor: the list goes unchecked.
    await cloud.put("fmt", { unit: "g" });
    assert.equal(await show.call(5, ref("fmt")), "5 g");
  });

  it("stores the schemas' JSON Schema in the function's definition", async () => {
    await cloud.register("show2", (_ctx, n, fmt) => `${n}${fmt.unit}`, { input, output });
    const def = await storedDef("show2");
    assert.deepEqual(def.schema, {
      input: z.toJSONSchema(input, { io: "input" }),
      output: z.toJSONSchema(output, { io: "output" }),
    });
    // A function registered without schemas has none.
    await cloud.register("plain", (_ctx, n: number) => n);
    assert.equal((await storedDef("plain")).schema, undefined);
  });

  it("refuses an input that is not a Standard Schema validator", async () => {
    await assert.rejects(
      cloud.register("bad", (_ctx, n: number) => n, { input: { parse: () => [] } } as never),
      (e: unknown) => isStratusError(e) && e.code === "INVALID_ARGUMENT",
    );
  });
});

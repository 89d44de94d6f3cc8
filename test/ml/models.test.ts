/**
 * The models built in code, run in this process through onnxruntime-node (no cluster needed):
 * seeded builds are reproducible, the batch path equals the per-row path, bad tensors are typed
 * errors, and the packaged fastText model identifies languages offline.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  BadTensorError,
  Model,
  categoryMatrix,
  cnnBig,
  cnnSmall,
  detector,
  lid176,
  mlp,
  syntheticImage,
  tokenize,
  topK,
  translate,
  translator,
  userVector,
} from "../../src/ml/index.js";
import type { BuiltModel, ModelManifest } from "../../src/ml/index.js";
import { LanguageId } from "../../src/ml/lid.js";

function manifest(name: string, b: BuiltModel): ModelManifest {
  return {
    name,
    version: "t",
    format: b.format,
    inputs: b.inputs,
    outputs: b.outputs,
    bytesKey: "",
    size: 0,
  };
}
const load = (name: string, b: BuiltModel): Promise<Model> =>
  Model.create(manifest(name, b), b.bytes);
const image = (seed: number) => ({ image: { data: syntheticImage(seed), dims: [1, 3, 64, 64] } });

/** Rejects with BadTensorError; returns it. */
async function badTensor(p: Promise<unknown>): Promise<BadTensorError> {
  const e = await p.then(
    () => assert.fail("expected BAD_TENSOR, got a result"),
    (e: unknown) => e,
  );
  assert.ok(e instanceof BadTensorError, `expected BadTensorError, got ${String(e)}`);
  assert.equal(e.code, "BAD_TENSOR");
  return e;
}

describe("ml: models built in code", () => {
  it("gives the same bytes and outputs for the same seed, other outputs for another", async () => {
    const a = cnnSmall({ seed: 11 });
    const b = cnnSmall({ seed: 11 });
    const c = cnnSmall({ seed: 12 });
    assert.deepEqual(a.bytes, b.bytes);
    const [ma, mb, mc] = await Promise.all([load("a", a), load("b", b), load("c", c)]);
    const [oa, ob, oc] = await Promise.all([ma.run(image(5)), mb.run(image(5)), mc.run(image(5))]);
    assert.deepEqual(oa.probs?.data, ob.probs?.data);
    assert.notDeepEqual(oa.probs?.data, oc.probs?.data);
    const sum = (oa.probs?.data as Float32Array).reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `softmax sums to ${sum}`);
  });

  it("returns batched results equal to per-row results, in order", async () => {
    for (const [name, built, row] of [
      ["cnn-big", cnnBig(), (i: number) => syntheticImage(i)],
      ["mlp", mlp({ dims: [64, 128, 10] }), (i: number) => syntheticImage(i).subarray(0, 64)],
    ] as const) {
      const m = await load(name, built);
      const rows = Array.from({ length: 6 }, (_, i) => row(i + 100));
      const batched = await m.runRows(rows);
      assert.equal(batched.length, rows.length);
      for (const [i, r] of rows.entries()) {
        const [single] = await m.runRows([r]);
        const got = batched[i]?.data as Float32Array;
        const want = single?.data as Float32Array;
        assert.deepEqual(batched[i]?.dims, single?.dims);
        // One run over a batch may sum in another order than one row alone: equal to float noise.
        for (let k = 0; k < want.length; k++) {
          assert.ok(
            Math.abs((got[k] as number) - (want[k] as number)) < 1e-5,
            `${name} row ${i}[${k}]`,
          );
        }
      }
    }
  });

  it("refuses bad tensors with BAD_TENSOR naming the model, input, expected and given shapes", async () => {
    const m = await load("cnn-small", cnnSmall());
    const e1 = await badTensor(
      m.run({ image: { data: new Float32Array(3 * 32 * 32), dims: [1, 3, 32, 32] } }),
    );
    assert.match(
      e1.message,
      /cnn-small.*image.*expected dims \[N, 3, 64, 64\], got \[1, 3, 32, 32\]/,
    );
    assert.deepEqual(e1.details?.got, { dims: [1, 3, 32, 32] });
    await badTensor(
      m.run({ image: { data: new Float64Array(3 * 64 * 64) as never, dims: [1, 3, 64, 64] } }),
    );
    await badTensor(m.run({ image: { data: new Float32Array(10), dims: [1, 3, 64, 64] } }));
    await badTensor(m.run({ image: { data: syntheticImage(1), dims: [1, 3, 64, -64] } }));
    await badTensor(m.run({ picture: image(1).image }));
    await badTensor(m.run({ ...image(1), extra: image(1).image }));
    await badTensor(m.run(null as never));
    await badTensor(m.runRows([syntheticImage(1), new Float32Array(5)]));
    await badTensor(m.runRows([]));
    // The model still serves after every refusal.
    assert.equal((await m.run(image(1))).probs?.data.length, 10);
  });

  it("detects per frame and translates with a step count that sets the work", async () => {
    const d = await load("detector", detector());
    const scores = (await d.run({ frame: image(3).image })).scores?.data as Float32Array;
    assert.equal(scores.length, 3);
    assert.ok(scores.every((s) => s > 0 && s < 1));
    const t = await load("translator", translator());
    const tokens = tokenize("the quick brown fox jumps");
    assert.equal(tokens.length, 5);
    const once = await translate(t, tokens, 1);
    const again = await translate(t, tokens, 1);
    assert.deepEqual(once, again);
    assert.equal((await translate(t, tokens, 4)).length, 5);
  });

  it("keeps the k best rows of a category matrix, like a full sort does", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 8 }), (seed, k) => {
        const user = userVector(seed, 16);
        const m = categoryMatrix(seed, 40, 16);
        const all = Array.from({ length: 40 }, (_, r) => {
          let s = 0;
          for (let i = 0; i < 16; i++) s += (user[i] as number) * (m[r * 16 + i] as number);
          return { item: r, score: s };
        }).sort((a, b) => b.score - a.score || a.item - b.item);
        assert.deepEqual(topK(user, m, k), all.slice(0, k));
      }),
      { numRuns: 200 },
    );
    assert.equal(topK(userVector(1), categoryMatrix(1), 5).length, 5);
  });

  it("identifies languages with fastText's lid.176 loaded from bytes", async () => {
    const built = lid176();
    const lid = await LanguageId.create(manifest("lid", built), built.bytes);
    assert.equal(
      lid.identify("Bonjour tout le monde, comment allez-vous aujourd'hui ?")[0]?.lang,
      "fr",
    );
    assert.equal(lid.identify("Guten Morgen, wie geht es dir heute?")[0]?.lang, "de");
    assert.equal(lid.identify("¿Dónde está la biblioteca de la ciudad?")[0]?.lang, "es");
    assert.equal(lid.identify("x", 3).length, 3);
  });
});

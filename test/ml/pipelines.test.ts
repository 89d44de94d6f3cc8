/**
 * The three ML pipelines of examples/pipelines on an embedded cluster (real executor workers, the
 * memory store), each checked against what its own stages compute: which rows reach the second
 * stage, what the joins keep, where texts are routed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { syntheticImage } from "../../src/ml/index.js";
import { cascadeFlow } from "../../examples/pipelines/image-cascade.js";
import { prepare } from "../../examples/pipelines/models.js";
import { TEXTS, translationFlow } from "../../examples/pipelines/translation.js";
import { videoFlow } from "../../examples/pipelines/video.js";

const argmax = (p: Float32Array): number => p.indexOf(Math.max(...p));

describe("ml: pipelines on the Flow API", () => {
  let cloud: Stratus;
  const images = Array.from({ length: 12 }, (_, i) => syntheticImage(i));

  before(async () => {
    cloud = await Stratus.local({ executors: 2 });
    await prepare(cloud);
  });
  after(async () => {
    await cloud?.close();
  });

  it("image cascade: the big CNN answers exactly the rows the small one is unsure of", async () => {
    const app = await cascadeFlow().deploy(cloud);
    const rows = await app.run(images.map((img) => ({ img })));
    assert.equal(rows.length, images.length);
    let unsure = 0;
    for (const [i, r] of rows.entries()) {
      const [small] = await cloud.call<Float32Array[]>("inferRows", ["cnn-small", [images[i]]]);
      assert.equal(r.label, argmax(small as Float32Array));
      if ((r.conf as number) < 0.85) {
        unsure++;
        const [big] = await cloud.call<Float32Array[]>("inferRows", ["cnn-big", [images[i]]]);
        assert.equal(r.bigLabel, argmax(big as Float32Array));
      } else {
        assert.equal(r.bigLabel, null);
      }
    }
    // Both paths taken, or the test shows nothing about the filter.
    assert.ok(unsure > 0 && unsure < rows.length, `${unsure} of ${rows.length} unsure`);
  });

  it("video: person and car branches in parallel, outer-joined on the frame", async () => {
    const app = await videoFlow().deploy(cloud);
    const rows = await app.run(images.map((img, frame) => ({ frame, img })));
    const byFrame = new Map(rows.map((r) => [r.frame, r]));
    let cars = 0;
    for (const [frame, img] of images.entries()) {
      const [s] = await cloud.call<Float32Array[]>("inferRows", ["detector", [img]]);
      const [person, , car] = s as Float32Array;
      const r = byFrame.get(frame);
      if ((person as number) <= 0.5 && (car as number) <= 0.5) {
        assert.equal(r, undefined, `frame ${frame} has nothing, yet a row`);
        continue;
      }
      assert.ok(r !== undefined, `frame ${frame} lost`);
      assert.equal(r.pose === null, (person as number) <= 0.5, `frame ${frame} pose`);
      assert.equal(r.carType === null, (car as number) <= 0.5, `frame ${frame} car`);
      if (r.carType !== null) cars++;
    }
    assert.ok(
      cars > 0 && cars < images.length,
      `cars in ${cars} frames: the join saw one side only`,
    );
  });

  it("translation: French and German texts reach their translators; others none", async () => {
    const app = await translationFlow().deploy(cloud);
    const input = [...TEXTS, "The weather is lovely today, isn't it?"].map((text) => ({
      text,
      meanSteps: 4,
    }));
    const rows = await app.run(input);
    assert.deepEqual(rows.map((r) => r.text).sort(), [...TEXTS].sort());
    for (const r of rows) {
      assert.equal(r.lang, TEXTS.indexOf(r.text as string) % 2 === 0 ? "fr" : "de");
      assert.ok(Array.isArray(r.tokens) && r.tokens.length > 0);
      assert.ok((r.steps as number) >= 1);
    }
  });
});

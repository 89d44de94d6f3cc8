/**
 * Models in a real cluster: a `stratus up` child process over the runner's Redis, with the example
 * ML module deployed through the same bundling as `stratus deploy`. Models are saved to state by
 * the client and loaded by executor workers from there: once per worker and version, however many
 * calls use them.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { deploy } from "../../src/cli/deploy.js";
import { Stratus, isStratusError } from "../../src/index.js";
import {
  cnnSmall,
  lid176,
  mlp,
  saveModel,
  syntheticImage,
  translator,
} from "../../src/ml/index.js";
import { stratusUp } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

type Stats = { loads: number; loaded: string[] };

async function rejectsWith(p: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  const e = await p.then(
    () => assert.fail(`expected ${code}, got a result`),
    (e: unknown) => e,
  );
  assert.ok(isStratusError(e), `expected a StratusError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return e.details ?? {};
}

describe("ml: models from state in an executor", () => {
  let own: RedisServer | undefined;
  let up: Child & { url: string; token: string };
  let cloud: Stratus;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    // One executor: every call lands in the same worker, so its load count is the whole story.
    up = await stratusUp([
      "--store",
      `${redis}?prefix=ml-${randomUUID().slice(0, 8)}:`,
      "--executors",
      "1",
    ]);
    cloud = await Stratus.connect(up.url, { token: up.token });
    await deploy(cloud, "examples/ml/functions.ts");
  });

  after(async () => {
    await cloud?.close();
    await up?.stop();
    await own?.stop();
  });

  it("refuses a model that was never saved with NO_SUCH_MODEL (control: nothing loaded)", async () => {
    const d = await rejectsWith(cloud.call("classify", [syntheticImage(1)]), "NO_SUCH_MODEL");
    assert.equal(d.name, "cnn-small");
    assert.equal((await cloud.call<Stats>("modelLoads", [])).loads, 0);
  });

  it("loads a saved model once per worker, and again only for a new version", async () => {
    await saveModel(cloud, "cnn-small", cnnSmall({ seed: 1 }));
    const first: Float32Array[] = [];
    for (let i = 0; i < 8; i++)
      first.push(await cloud.call<Float32Array>("classify", [syntheticImage(i)]));
    assert.ok(first[0] instanceof Float32Array && first[0].length === 10);
    let stats = await cloud.call<Stats>("modelLoads", []);
    assert.equal(stats.loads, 1, `loaded ${stats.loads} times for 8 calls`);
    // Same bytes saved again: same version, nothing reloaded.
    await saveModel(cloud, "cnn-small", cnnSmall({ seed: 1 }));
    await cloud.call("classify", [syntheticImage(0)]);
    assert.equal((await cloud.call<Stats>("modelLoads", [])).loads, 1);
    // New weights: the next call sees the new version, loads it once, and its outputs change.
    const v2 = await saveModel(cloud, "cnn-small", cnnSmall({ seed: 2 }));
    const after = await cloud.call<Float32Array>("classify", [syntheticImage(0)]);
    await cloud.call("classify", [syntheticImage(1)]);
    stats = await cloud.call<Stats>("modelLoads", []);
    assert.equal(stats.loads, 2);
    assert.ok(stats.loaded.includes(`cnn-small@${v2.version}`));
    assert.notDeepEqual(after, first[0]);
  });

  it("returns the same rows from one batched call as from per-row calls", async () => {
    await saveModel(cloud, "mlp-test", mlp({ seed: 3, dims: [64, 256, 10] }));
    const rows = Array.from({ length: 5 }, (_, i) => syntheticImage(i + 40).slice(0, 64));
    const batched = await cloud.call<Float32Array[]>("inferRows", ["mlp-test", rows]);
    assert.equal(batched.length, 5);
    for (const [i, r] of rows.entries()) {
      const [one] = await cloud.call<Float32Array[]>("inferRows", ["mlp-test", [r]]);
      const got = batched[i] as Float32Array;
      assert.equal(got.length, 10);
      got.forEach((v, k) => assert.ok(Math.abs(v - (one?.[k] as number)) < 1e-5, `row ${i}[${k}]`));
    }
  });

  it("answers a bad tensor with BAD_TENSOR across the wire, and keeps serving", async () => {
    const d = await rejectsWith(
      cloud.call("infer", [
        "cnn-small",
        { image: { data: new Float32Array(12), dims: [1, 3, 2, 2] } },
      ]),
      "BAD_TENSOR",
    );
    assert.equal(d.model, "cnn-small");
    assert.equal(d.input, "image");
    assert.deepEqual(d.got, { dims: [1, 3, 2, 2] });
    await rejectsWith(cloud.call("infer", ["cnn-small", { image: "pixels" }]), "BAD_TENSOR");
    // The same worker (its loads are still counted) answers the next good call.
    const before = (await cloud.call<Stats>("modelLoads", [])).loads;
    assert.equal((await cloud.call<Float32Array>("classify", [syntheticImage(3)])).length, 10);
    assert.equal((await cloud.call<Stats>("modelLoads", [])).loads, before);
  });

  it("identifies languages with the fastText model saved to state", async () => {
    await saveModel(cloud, "lid", lid176());
    const g = await cloud.call<{ lang: string; p: number }>("detectLanguage", [
      "Bonjour tout le monde, comment ça va ?",
    ]);
    assert.equal(g.lang, "fr");
    assert.ok(g.p > 0.5);
  });

  it("translates with a random number of decoding steps", async () => {
    await saveModel(cloud, "translator", translator({ width: 64 }));
    const steps = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = await cloud.call<{ tokens: number[]; steps: number }>("translateText", [
        "translator",
        "das ist ein kleiner test",
        8,
      ]);
      assert.equal(r.tokens.length, 5);
      assert.ok(r.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 1000));
      assert.ok(r.steps >= 1);
      steps.add(r.steps);
    }
    // Six draws of a gamma(2, 4) all equal: about 1 chance in 10^5.
    assert.ok(steps.size > 1, `always ${[...steps].join()} steps`);
  });
});

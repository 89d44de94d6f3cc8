/**
 * ML functions for `stratus deploy examples/ml/functions.ts`. Models are read from Stratus state
 * (save them first with `saveModel`, see examples/ml/setup.ts) and loaded once per executor
 * worker; every later call reuses the loaded session.
 */
import type { Context } from "../../src/index.js";
import { IMAGE_SIZE, languageId, mlStats, model, tokenize, translate } from "../../src/ml/index.js";
import type { LanguageGuess, Tensor } from "../../src/ml/index.js";

const IMAGE_DIMS = [1, 3, IMAGE_SIZE, IMAGE_SIZE];

/** Class probabilities of one image (3x64x64 floats) under an image model (`cnn-small` by default). */
export async function classify(
  ctx: Context,
  image: Float32Array,
  name = "cnn-small",
): Promise<Float32Array> {
  const m = await model(ctx, name);
  const out = await m.run({ image: { data: image, dims: IMAGE_DIMS } });
  return out.probs?.data as Float32Array;
}

/**
 * The batch path: rows of a single-input model (each without the batch dimension) stacked into
 * one inference; one output row per input row, in order.
 */
export async function inferRows(
  ctx: Context,
  name: string,
  rows: Float32Array[],
): Promise<Float32Array[]> {
  const m = await model(ctx, name);
  return (await m.runRows(rows)).map((t) => t.data as Float32Array);
}

/** Runs any saved model on raw named tensors: every output, by name. */
export async function infer(
  ctx: Context,
  name: string,
  inputs: Record<string, Tensor>,
): Promise<Record<string, Tensor>> {
  return (await model(ctx, name)).run(inputs);
}

/** The language of `text` by fastText's lid.176, saved as `lid`. */
export async function detectLanguage(
  ctx: Context,
  text: string,
): Promise<LanguageGuess | undefined> {
  return (await languageId(ctx, "lid")).identify(text)[0];
}

/**
 * Translates `text` with a translator model, decoding a random number of steps drawn from a gamma
 * distribution (shape 2, mean `meanSteps`): like a real decoder's output length, so the stage's
 * latency has a long tail and two replicas of it finish at different times.
 */
export async function translateText(
  ctx: Context,
  name: string,
  text: string,
  meanSteps = 40,
): Promise<{ tokens: number[]; steps: number }> {
  const m = await model(ctx, name);
  const steps = Math.max(1, Math.round((-meanSteps / 2) * Math.log(Math.random() * Math.random())));
  const out = await translate(m, tokenize(text), steps, ctx.signal);
  return { tokens: Array.from(out, Number), steps };
}

/** How many models this worker has loaded from state, and which. */
export function modelLoads(_ctx: Context): { loads: number; loaded: string[] } {
  return mlStats();
}

/**
 * What the pipelines need in a cluster: the ML module (examples/ml/functions.ts) deployed as
 * `stratus deploy` would, and their models saved to state. Stage functions of a flow ship as
 * self-contained source and cannot import, so they reach the models through `ctx.call` to the
 * deployed module's functions (`inferRows`, `detectLanguage`, `translateText`).
 */
import { join } from "node:path";
import { deploy } from "../../src/cli/deploy.js";
import type { Stratus } from "../../src/index.js";
import {
  carClassifier,
  cnnBig,
  cnnSmall,
  detector,
  lid176,
  personClassifier,
  saveModel,
  translator,
} from "../../src/ml/index.js";
import type { BuiltModel } from "../../src/ml/index.js";

/** The models of each pipeline, by the name the stage functions use. */
export const PIPELINE_MODELS: Record<string, Record<string, () => BuiltModel>> = {
  cascade: { "cnn-small": () => cnnSmall(), "cnn-big": () => cnnBig() },
  video: {
    detector: () => detector(),
    person: () => personClassifier(),
    car: () => carClassifier(),
  },
  translation: {
    lid: () => lid176(),
    "translator-fr": () => translator({ seed: 61 }),
    "translator-de": () => translator({ seed: 62 }),
  },
};

/** Deploys the ML module and saves the models of `pipelines` (all four by default). */
export async function prepare(
  cloud: Stratus,
  pipelines: (keyof typeof PIPELINE_MODELS)[] = Object.keys(PIPELINE_MODELS),
): Promise<void> {
  await deploy(cloud, join(import.meta.dirname, "..", "ml", "functions.ts"));
  for (const p of pipelines) {
    for (const [name, build] of Object.entries(PIPELINE_MODELS[p] ?? {})) {
      await saveModel(cloud, name, build());
    }
  }
}

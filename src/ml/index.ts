/**
 * ML operators: models built in code (ONNX graphs with seeded weights) or shipped in a package
 * (fastText's lid.176), saved to Stratus state and loaded once per executor worker by the
 * functions that use them.
 *
 * @example
 * ```ts
 * import { saveModel, cnnSmall, model } from "stratus/ml";
 * await saveModel(cloud, "cnn-small", cnnSmall());
 * // in a module deployed with `stratus deploy`:
 * export async function classify(ctx: Context, img: Float32Array) {
 *   const m = await model(ctx, "cnn-small");
 *   return (await m.run({ image: { data: img, dims: [1, 3, 64, 64] } })).probs?.data;
 * }
 * ```
 */
export { BadTensorError, NoSuchModelError } from "../errors/index.js";
export { GraphBuilder } from "./graph.js";
export { LanguageId, lid176 } from "./lid.js";
export type { LanguageGuess } from "./lid.js";
export { Model } from "./model.js";
export {
  IMAGE_SIZE,
  VOCAB,
  carClassifier,
  cnnBig,
  cnnSmall,
  detector,
  mlp,
  personClassifier,
  syntheticImage,
  translator,
} from "./models.js";
export type { BuildOptions } from "./models.js";
export { mulberry32 } from "./random.js";
export { CATEGORY_ITEMS, EMBED_DIM, categoryMatrix, topK, userVector } from "./recommend.js";
export type { Scored } from "./recommend.js";
export { languageId, manifestKey, mlStats, model, saveModel } from "./runtime.js";
export { tokenize, translate } from "./translate.js";
export type {
  BuiltModel,
  ModelFormat,
  ModelManifest,
  StateReader,
  StateWriter,
  Tensor,
  TensorSpec,
  TensorType,
} from "./types.js";

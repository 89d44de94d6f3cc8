/**
 * The models of the four example pipelines, built in code with seeded weights: the same seed
 * gives the same bytes and the same outputs on every machine. They are untrained (their classes
 * mean nothing) but have the shapes, operators and costs of the real thing.
 */
import { GraphBuilder } from "./graph.js";
import { heWeights, mulberry32, uniform } from "./random.js";
import type { BuiltModel, TensorSpec } from "./types.js";

/** Options every builder takes. */
export interface BuildOptions {
  /** Seeds the weights; default 1. */
  seed?: number;
}

interface ConvNetOptions {
  seed: number;
  /** Output channels of each 3x3 convolution, and its stride. */
  layers: [channels: number, stride: number][];
  /** Input height and width. */
  size: number;
  classes: number;
  /** Multiplies the logits: larger makes the softmax more confident. */
  sharpness: number;
  head: "softmax" | "sigmoid";
  /**
   * Subtract each row's mean logit before the head. Pooled ReLU features share a large common
   * part, so without it one class wins for every input; centred, inputs differ in which win.
   */
  center?: boolean;
  input: string;
  output: string;
}

/** Conv3x3+Relu layers, global average pool, a dense layer, then softmax or sigmoid. */
function convNet(name: string, o: ConvNetOptions): BuiltModel {
  const next = mulberry32(o.seed);
  const g = new GraphBuilder(name);
  const input: TensorSpec = { name: o.input, type: "float32", dims: ["N", 3, o.size, o.size] };
  let x = g.input(input);
  let cin = 3;
  o.layers.forEach(([cout, stride], i) => {
    const w = g.constant(`conv${i}.w`, [cout, cin, 3, 3], heWeights(next, cout * cin * 9, cin * 9));
    const b = g.constant(`conv${i}.b`, [cout], uniform(next, cout, 0.05));
    x = g.node("Conv", [x, w, b], undefined, {
      pads: [1, 1, 1, 1],
      strides: [stride, stride],
      kernel_shape: [3, 3],
    });
    x = g.node("Relu", [x]);
    cin = cout;
  });
  x = g.node("GlobalAveragePool", [x]);
  x = g.node("Flatten", [x], undefined, { axis: 1 });
  const w = g.constant(
    "fc.w",
    [cin, o.classes],
    heWeights(next, cin * o.classes, cin, o.sharpness),
  );
  const b = g.constant("fc.b", [o.classes], uniform(next, o.classes, 0.1));
  x = g.node("Gemm", [x, w, b]);
  if (o.center === true)
    x = g.node("Sub", [x, g.node("ReduceMean", [x], undefined, { axes: [1], keepdims: 1 })]);
  const out: TensorSpec = { name: o.output, type: "float32", dims: ["N", o.classes] };
  if (o.head === "softmax") g.node("Softmax", [x], [out.name], { axis: 1 });
  else g.node("Sigmoid", [x], [out.name]);
  return { format: "onnx", bytes: g.build([out]), inputs: [input], outputs: [out] };
}

/** Image side of the image and video models. */
export const IMAGE_SIZE = 64;

/**
 * The cascade's first stage: a cheap 2-layer CNN over `image` [N,3,64,64], softmax `probs` [N,10].
 * With the default seed about 1 `syntheticImage` in 5 gets a confidence below 0.85.
 *
 * @example
 * ```ts
 * await saveModel(cloud, "cnn-small", cnnSmall());
 * ```
 */
export function cnnSmall(o: BuildOptions = {}): BuiltModel {
  return convNet("cnn-small", {
    seed: o.seed ?? 3,
    layers: [
      [8, 2],
      [16, 2],
    ],
    size: IMAGE_SIZE,
    classes: 10,
    sharpness: 40,
    head: "softmax",
    input: "image",
    output: "probs",
  });
}

/** The cascade's second stage: a 4-layer CNN (about 30x the small one's work), same shapes. */
export function cnnBig(o: BuildOptions = {}): BuiltModel {
  return convNet("cnn-big", {
    seed: o.seed ?? 2,
    layers: [
      [32, 1],
      [64, 2],
      [128, 2],
      [128, 1],
    ],
    size: IMAGE_SIZE,
    classes: 10,
    sharpness: 80,
    head: "softmax",
    input: "image",
    output: "probs",
  });
}

/**
 * The video pipeline's per-frame detector: `frame` [N,3,64,64] → sigmoid `scores` [N,3], read as
 * (person, background, car) present. With the default seed, on `syntheticImage` frames, about 9
 * frames in 10 show a person and 1 in 3 a car, so both branches of the pipeline get work.
 */
export function detector(o: BuildOptions = {}): BuiltModel {
  return convNet("detector", {
    seed: o.seed ?? 3,
    layers: [
      [16, 2],
      [32, 2],
    ],
    size: IMAGE_SIZE,
    classes: 3,
    sharpness: 20,
    head: "sigmoid",
    center: true,
    input: "frame",
    output: "scores",
  });
}

/** The video pipeline's person branch: `frame` → softmax `probs` [N,4] (pose). */
export function personClassifier(o: BuildOptions = {}): BuiltModel {
  return convNet("person", {
    seed: o.seed ?? 4,
    layers: [
      [16, 2],
      [32, 2],
      [64, 1],
    ],
    size: IMAGE_SIZE,
    classes: 4,
    sharpness: 20,
    head: "softmax",
    input: "frame",
    output: "probs",
  });
}

/** The video pipeline's car branch: `frame` → softmax `probs` [N,6] (car type). */
export function carClassifier(o: BuildOptions = {}): BuiltModel {
  return convNet("car", {
    seed: o.seed ?? 5,
    layers: [
      [16, 2],
      [32, 2],
      [64, 1],
    ],
    size: IMAGE_SIZE,
    classes: 6,
    sharpness: 20,
    head: "softmax",
    input: "frame",
    output: "probs",
  });
}

/** Vocabulary and width of the translator. */
export const VOCAB = 1000;

/**
 * One decoding step of a toy translator: `tokens` int64 [N,T] → embedding → dense+tanh → dense
 * → argmax `next` int64 [N,T]. A translation runs it once per step (see `translate`), so its
 * latency varies with the number of steps, as a real decoder's does with output length.
 */
export function translator(o: BuildOptions & { width?: number } = {}): BuiltModel {
  const next = mulberry32(o.seed ?? 6);
  const d = o.width ?? 256;
  const g = new GraphBuilder("translator");
  const input: TensorSpec = { name: "tokens", type: "int64", dims: ["N", "T"] };
  const emb = g.constant("emb", [VOCAB, d], uniform(next, VOCAB * d, 1));
  let x = g.node("Gather", [emb, g.input(input)], undefined, { axis: 0 });
  x = g.node("MatMul", [x, g.constant("w1", [d, d], heWeights(next, d * d, d))]);
  x = g.node("Tanh", [x]);
  x = g.node("MatMul", [x, g.constant("w2", [d, VOCAB], heWeights(next, d * VOCAB, d))]);
  const out: TensorSpec = { name: "next", type: "int64", dims: ["N", "T"] };
  g.node("ArgMax", [x], [out.name], { axis: 2, keepdims: 0 });
  return { format: "onnx", bytes: g.build([out]), inputs: [input], outputs: [out] };
}

/**
 * A memory-bound MLP (`x` [N,512] → 2048 → 2048 → 512 → softmax `probs` [N,10]; 6.3 M weights),
 * the stage batching helps: at batch 1 each run streams all weights for one row; a batch reuses
 * them. (Convolutions are compute-bound already at batch 1 and gain nothing from batching.)
 */
export function mlp(o: BuildOptions & { dims?: number[] } = {}): BuiltModel {
  const next = mulberry32(o.seed ?? 7);
  const dims = o.dims ?? [512, 2048, 2048, 512, 10];
  const g = new GraphBuilder("mlp");
  const input: TensorSpec = { name: "x", type: "float32", dims: ["N", dims[0] as number] };
  let x = g.input(input);
  for (let i = 1; i < dims.length; i++) {
    const [a, b] = [dims[i - 1] as number, dims[i] as number];
    x = g.node("MatMul", [x, g.constant(`w${i}`, [a, b], heWeights(next, a * b, a))]);
    x = g.node("Add", [x, g.constant(`b${i}`, [b], uniform(next, b, 0.05))]);
    if (i < dims.length - 1) x = g.node("Relu", [x]);
  }
  const out: TensorSpec = {
    name: "probs",
    type: "float32",
    dims: ["N", dims[dims.length - 1] as number],
  };
  g.node("Softmax", [x], [out.name], { axis: 1 });
  return { format: "onnx", bytes: g.build([out]), inputs: [input], outputs: [out] };
}

/** A synthetic image (or frame), [3,size,size] in [0,1), from a seed. */
export function syntheticImage(seed: number, size = IMAGE_SIZE): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(3 * size * size);
  // Smooth blobs rather than white noise, so different seeds give differently confident outputs.
  const cx = next() * size,
    cy = next() * size,
    r = 4 + next() * size * 0.4;
  const tint = [next(), next(), next()];
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r ? 1 : 0;
        out[(c * size + y) * size + x] = 0.5 * inside * (tint[c] as number) + 0.2 * next();
      }
    }
  }
  return out;
}

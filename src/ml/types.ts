/** Shapes shared by the model builders, the store helpers and the runtime. */

/** Element types the built-in models use. */
export type TensorType = "float32" | "int64";

/**
 * One named input or output of a model. A string dimension is symbolic (any positive size, e.g.
 * `"N"` for the batch); a number must match exactly.
 */
export interface TensorSpec {
  name: string;
  type: TensorType;
  dims: (number | string)[];
}

/** A tensor as the runtime takes and returns it: flat data, row-major, and its dimensions. */
export interface Tensor {
  data: Float32Array | BigInt64Array;
  dims: number[];
}

/** Model formats the runtime can load. */
export type ModelFormat = "onnx" | "fasttext";

/** A model built in code (or read from a package), before it is saved to state. */
export interface BuiltModel {
  format: ModelFormat;
  bytes: Uint8Array;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/**
 * What `ml/<name>` holds: a small record read on every use (cheap: the worker keeps its version),
 * pointing at the model bytes, which are read only when a worker loads that version.
 */
export interface ModelManifest {
  name: string;
  /** Content hash of the bytes: the same model saved twice keeps its version. */
  version: string;
  format: ModelFormat;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  bytesKey: string;
  size: number;
}

/** The part of a function's `ctx` (or of a client) the runtime reads models through. */
export interface StateReader {
  get<T = unknown>(key: string): Promise<T | undefined>;
}

/** The part of a client (or of a function's `ctx`) that saves models. */
export interface StateWriter {
  put(key: string, value: unknown): Promise<void>;
}

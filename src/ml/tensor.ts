/** Checks of tensors against a model's declared inputs, and stacking rows into batches. */
import { BadTensorError } from "../errors/index.js";
import type { Tensor, TensorSpec } from "./types.js";

function typeOf(data: unknown): string {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof BigInt64Array) return "int64";
  if (ArrayBuffer.isView(data)) return data.constructor.name;
  return data === null ? "null" : typeof data;
}

const show = (dims: readonly (number | string)[]): string => `[${dims.join(", ")}]`;

/** Throws {@link BadTensorError} unless `t` fits `spec` exactly (type, rank, sizes, length). */
export function checkTensor(model: string, spec: TensorSpec, t: unknown): asserts t is Tensor {
  const fail = (problem: string, got: unknown): never => {
    throw new BadTensorError(`model ${model}, input ${spec.name}: ${problem}`, {
      details: { model, input: spec.name, expected: { type: spec.type, dims: spec.dims }, got },
    });
  };
  if (typeof t !== "object" || t === null) return fail("not a tensor", typeOf(t));
  const { data, dims } = t as Partial<Tensor>;
  const type = typeOf(data);
  if (type !== spec.type) return fail(`expected ${spec.type} data, got ${type}`, { type });
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
    return fail("dims must be an array of positive integers", { dims });
  }
  if (dims.length !== spec.dims.length || dims.some((d, i) => !fits(spec.dims[i], d))) {
    return fail(`expected dims ${show(spec.dims)}, got ${show(dims)}`, { dims });
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if ((data as Float32Array).length !== n) {
    return fail(
      `dims ${show(dims)} hold ${n} values, the data has ${(data as Float32Array).length}`,
      {
        dims,
        length: (data as Float32Array).length,
      },
    );
  }
}

function fits(spec: number | string | undefined, d: number): boolean {
  return typeof spec === "string" || spec === d;
}

/** Values per row: the product of every dimension after the batch one, which must be symbolic. */
export function rowSize(model: string, spec: TensorSpec): number {
  const [batch, ...rest] = spec.dims;
  if (typeof batch !== "string" || rest.some((d) => typeof d !== "number")) {
    throw new BadTensorError(
      `model ${model}, input ${spec.name}: rows need a symbolic first dimension and fixed others, the model has ${show(spec.dims)}`,
      { details: { model, input: spec.name, expected: { dims: spec.dims } } },
    );
  }
  return (rest as number[]).reduce((a, b) => a * b, 1);
}

/** Stacks same-length rows into one batch tensor of `spec`'s shape. */
export function stack(model: string, spec: TensorSpec, rows: readonly unknown[]): Tensor {
  const size = rowSize(model, spec);
  if (rows.length === 0) {
    throw new BadTensorError(`model ${model}: a batch needs at least one row`, {
      details: { model, input: spec.name },
    });
  }
  const dims = [rows.length, ...(spec.dims.slice(1) as number[])];
  const data =
    spec.type === "float32"
      ? new Float32Array(rows.length * size)
      : new BigInt64Array(rows.length * size);
  rows.forEach((row, i) => {
    checkTensor(model, spec, { data: row, dims: [1, ...dims.slice(1)] });
    (data as Float32Array).set(row as Float32Array, i * size);
  });
  return { data, dims };
}

/** Splits a batch output back into one tensor per row (copies: rows outlive the batch). */
export function unstack(t: Tensor): Tensor[] {
  const [n = 0, ...rest] = t.dims;
  const size = rest.reduce((a, b) => a * b, 1);
  const out: Tensor[] = [];
  for (let i = 0; i < n; i++)
    out.push({ data: t.data.slice(i * size, (i + 1) * size), dims: [1, ...rest] });
  return out;
}

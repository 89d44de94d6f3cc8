/**
 * A small builder of ONNX graphs over `onnx-proto`'s generated protobuf classes. Models here are
 * built in code with seeded weights, so nothing is ever downloaded and the same seed gives the same
 * bytes. Only the handful of operators the built-in models need are wrapped.
 */
import type { onnx as OnnxNs } from "onnx-proto";
import { loadPackage } from "./load.js";
import type { TensorSpec } from "./types.js";

type Onnx = typeof OnnxNs;
const onnx = (): Onnx => loadPackage<{ onnx: Onnx }>("onnx-proto").onnx;

/** Opset 13 and IR 7: what onnxruntime-node 1.30 runs and `onnx-proto` (onnx 1.10) encodes. */
const OPSET = 13;
const IR_VERSION = 7;

type Attr = number | number[] | string;

function dim(d: number | string): OnnxNs.TensorShapeProto.IDimension {
  return typeof d === "number" ? { dimValue: d } : { dimParam: d };
}

/**
 * Collects nodes and initializers, then encodes a `ModelProto`.
 *
 * @example
 * ```ts
 * const g = new GraphBuilder("double");
 * g.input({ name: "x", type: "float32", dims: ["N", 2] });
 * g.node("Mul", ["x", g.constant("two", [1], new Float32Array([2]))], ["y"]);
 * const bytes = g.build([{ name: "y", type: "float32", dims: ["N", 2] }]);
 * ```
 */
export class GraphBuilder {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly inits: OnnxNs.ITensorProto[] = [];
  private readonly inputs: TensorSpec[] = [];
  private seq = 0;

  constructor(readonly name: string) {}

  input(spec: TensorSpec): string {
    this.inputs.push(spec);
    return spec.name;
  }

  /** A weight tensor stored in the model; returns its name. */
  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const T = onnx().TensorProto.DataType;
    const type = data instanceof Float32Array ? T.FLOAT : T.INT64;
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.inits.push({ name, dims, dataType: type, rawData });
    return name;
  }

  /** Adds a node; returns the name of its (first) output, made up when not given. */
  node(op: string, inputs: string[], outputs?: string[], attrs: Record<string, Attr> = {}): string {
    const outs = outputs ?? [`${op.toLowerCase()}_${++this.seq}`];
    const A = onnx().AttributeProto.AttributeType;
    const attribute = Object.entries(attrs).map(([name, v]): OnnxNs.IAttributeProto => {
      if (typeof v === "string") return { name, type: A.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
      return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
    });
    this.nodes.push({ opType: op, input: inputs, output: outs, name: outs[0], attribute });
    return outs[0] as string;
  }

  /** Encodes the model with `outputs` as the graph's outputs. */
  build(outputs: TensorSpec[]): Uint8Array {
    const o = onnx();
    const value = (s: TensorSpec): OnnxNs.IValueInfoProto => ({
      name: s.name,
      type: {
        tensorType: {
          elemType:
            s.type === "float32" ? o.TensorProto.DataType.FLOAT : o.TensorProto.DataType.INT64,
          shape: { dim: s.dims.map(dim) },
        },
      },
    });
    const model = o.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: "stratus",
      opsetImport: [{ domain: "", version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs.map(value),
        output: outputs.map(value),
      },
    });
    return o.ModelProto.encode(model).finish();
  }
}

/** A loaded ONNX model: typed, checked runs over one onnxruntime session. */
import type * as OrtModule from "onnxruntime-node";
import type { InferenceSession } from "onnxruntime-node";
import { BadTensorError, NoSuchModelError } from "../errors/index.js";
import { loadPackage } from "./load.js";
import { checkTensor, stack, unstack } from "./tensor.js";
import type { ModelManifest, Tensor } from "./types.js";

type Ort = typeof OrtModule;

/**
 * onnxruntime-node is an optional peer dependency (290 MB unpacked): a node without it cannot run
 * ONNX models, which is that model's problem on that node, not a crash.
 */
function loadOrt(model: string): Ort {
  try {
    return loadPackage<Ort>("onnxruntime-node");
  } catch (e) {
    throw new NoSuchModelError(
      `model ${model} cannot be loaded here: onnxruntime-node is not installed next to Stratus ` +
        `(ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0)`,
      { details: { name: model }, cause: e },
    );
  }
}

/**
 * One model in one worker. `run` checks every input against the manifest before it reaches
 * onnxruntime, so a wrong shape is a {@link BadTensorError} naming the model and the input rather
 * than a native error string (or worse).
 *
 * @example
 * ```ts
 * const m = await model(ctx, "cnn-small");
 * const { probs } = await m.run({ image: { data: pixels, dims: [1, 3, 64, 64] } });
 * const rows = await m.runRows([a, b, c]); // one session.run over a batch of 3
 * ```
 */
export class Model {
  private constructor(
    readonly manifest: ModelManifest,
    private readonly session: InferenceSession,
    private readonly ort: Ort,
  ) {}

  /**
   * Creates the session. One intra-op thread: an executor worker is the unit of concurrency, and
   * several workers each spinning a pool of threads would fight over the cores (and a 2-thread
   * pool's wake-ups put a 10x tail on small models).
   */
  static async create(manifest: ModelManifest, bytes: Uint8Array): Promise<Model> {
    const ort = loadOrt(manifest.name);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
    });
    return new Model(manifest, session, ort);
  }

  get name(): string {
    return this.manifest.name;
  }

  /** Runs the model on named inputs; returns every declared output. */
  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const name = this.manifest.name;
    if (typeof inputs !== "object" || inputs === null) {
      throw new BadTensorError(`model ${name}: inputs must be an object of tensors by name`, {
        details: { model: name },
      });
    }
    const feeds: Record<string, InstanceType<Ort["Tensor"]>> = {};
    for (const spec of this.manifest.inputs) {
      const t = Object.hasOwn(inputs, spec.name) ? inputs[spec.name] : undefined;
      checkTensor(name, spec, t);
      feeds[spec.name] = new this.ort.Tensor(spec.type, t.data, t.dims);
    }
    const extra = Object.keys(inputs).filter(
      (k) => !this.manifest.inputs.some((s) => s.name === k),
    );
    if (extra.length > 0) {
      throw new BadTensorError(`model ${name} has no input ${extra.join(", ")}`, {
        details: { model: name, inputs: this.manifest.inputs.map((s) => s.name), got: extra },
      });
    }
    const out = await inflight(this.session.run(feeds));
    const result: Record<string, Tensor> = {};
    for (const spec of this.manifest.outputs) {
      const t = out[spec.name];
      if (t === undefined) continue;
      result[spec.name] = { data: t.data as Float32Array | BigInt64Array, dims: [...t.dims] };
    }
    return result;
  }

  /**
   * The batching path: stacks rows (each one example of the model's single input, without the
   * batch dimension) into one tensor, makes one `session.run`, and splits the first output back
   * into one tensor per row, in order. A bad row fails the batch with the row's shape named.
   */
  async runRows(rows: readonly (Float32Array | BigInt64Array)[]): Promise<Tensor[]> {
    const [spec, more] = this.manifest.inputs;
    const [output] = this.manifest.outputs;
    if (spec === undefined || more !== undefined || output === undefined) {
      throw new BadTensorError(`model ${this.name}: rows need a model with one input`, {
        details: { model: this.name, inputs: this.manifest.inputs.map((s) => s.name) },
      });
    }
    const batch = stack(this.name, spec, rows);
    const out = await this.run({ [spec.name]: batch });
    return unstack(out[output.name] as Tensor);
  }

  /** Frees the native session now rather than when it is collected. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

// Every bundle that uses models has its own copy of this module; the worker's global is shared.
const INFLIGHT = Symbol.for("stratus.ml.inflight");

/** The inference runs of this worker still in flight (every bundle's). */
export function runsInFlight(): Set<Promise<unknown>> {
  const g = globalThis as { [INFLIGHT]?: Set<Promise<unknown>> };
  return (g[INFLIGHT] ??= new Set());
}

/** Counts `p` as in flight until it settles: a worker does not exit under a native run. */
function inflight<T>(p: Promise<T>): Promise<T> {
  const runs = runsInFlight();
  runs.add(p);
  const done = (): void => void runs.delete(p);
  p.then(done, done);
  return p;
}

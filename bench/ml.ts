/**
 * ml, on a local cluster with 2 executors and the example ML module deployed as `stratus deploy`
 * would:
 *
 * - the ONNX stage under load, one row per inference against batches of rows per inference
 *   (`batching_throughput_gain`). The stage is the memory-bound MLP (512→2048→2048→512→10, 6.3 M
 *   weights): at batch 1 every row streams all weights; a batch reuses them.
 * - the pipelines of examples/pipelines (image cascade, video, translation), one row per run:
 *   `<name>_p50_ms`, `<name>_p99_ms` sequentially, `<name>_throughput_rps` with 2 runs in flight
 *   on 4 executors.
 *   Translation also runs with competitive execution off, interleaved with the optimized run.
 *
 * The functions below are exported so the dataflow benchmark can fold these cases into its own.
 */
import { Stratus } from "../src/index.js";
import { deploy } from "../src/cli/deploy.js";
import { mlp, mulberry32, saveModel, syntheticImage } from "../src/ml/index.js";
import { cascadeFlow } from "../examples/pipelines/image-cascade.js";
import { prepare } from "../examples/pipelines/models.js";
import { TEXTS, translationFlow } from "../examples/pipelines/translation.js";
import { videoFlow } from "../examples/pipelines/video.js";
import type { Benchmark, BenchContext, Metrics } from "./lib/harness.js";
import { interleaved, throughput } from "./lib/measure.js";

const EXECUTORS = 2;
/** Rows in flight in both variants: the same offered load, grouped or not. */
const INFLIGHT_ROWS = 32;
const BATCH = INFLIGHT_ROWS / EXECUTORS;

function rows(n: number, seed: number): Float32Array[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: 512 }, () => next()));
}

/**
 * Rows per second through `inferRows` on the saved model `name`: 32 one-row calls in flight
 * against 2 calls of 16 rows in flight, measured in alternating blocks so machine drift hits both.
 * Needs examples/ml/functions.ts deployed and an MLP saved under `name`.
 */
export async function batchingGain(
  cloud: Stratus,
  name: string,
  ctx: Pick<BenchContext, "quick" | "log">,
): Promise<Metrics> {
  const pool = rows(64, 1);
  const single = (i: number) => cloud.call("inferRows", [name, [pool[i % pool.length]]]);
  const batched = (i: number) => {
    const at = (i * BATCH) % pool.length;
    return cloud.call("inferRows", [name, pool.slice(at, at + BATCH)]);
  };
  // Every worker loads the model before the clock starts (a 25 MB read from state and a session).
  await Promise.all(Array.from({ length: 4 * EXECUTORS }, (_, i) => single(i)));
  const blocks = ctx.quick ? 2 : 5;
  const blockMs = ctx.quick ? 2000 : 4000;
  let singleRows = 0;
  let batchedRows = 0;
  for (let b = 0; b < blocks; b++) {
    singleRows += await throughput(single, INFLIGHT_ROWS, blockMs, blockMs / 4);
    batchedRows += BATCH * (await throughput(batched, EXECUTORS, blockMs, blockMs / 4));
    ctx.log(`block ${b + 1}/${blocks}: ${singleRows / (b + 1)} vs ${batchedRows / (b + 1)} rows/s`);
  }
  return {
    batching_single_rows_per_s: Math.round(singleRows / blocks),
    batching_batched_rows_per_s: Math.round(batchedRows / blocks),
    batching_batch_size: BATCH,
    batching_throughput_gain: batchedRows / singleRows,
  };
}

type Run = (i: number) => Promise<unknown>;

/**
 * Runs in flight for the pipelines' throughput. Stages reach models by `ctx.call`, so a running
 * stage holds its worker while the model runs on another: 2 runs in flight keep 4 executors busy
 * without the pool lending short-lived workers (each of which would load the models afresh).
 */
const PIPELINE_INFLIGHT = 2;
export const PIPELINE_EXECUTORS = 4;

/** How much {@link pipelineCases} measures. */
export interface PipelineOptions {
  /** Sequential runs per pipeline for p50 and p99. @default 100 quick, 400 otherwise */
  runs?: number;
  /** Milliseconds of the throughput measurement. @default 2000 quick, 5000 otherwise */
  throughputMs?: number;
  /** Also measure translation with competitive execution off. @default true */
  compareCompete?: boolean;
  /** Unmeasured runs of each pipeline first. @default 20 */
  warmup?: number;
}

/** p50 and p99 of `run` one at a time, and its runs per second with 2 in flight. */
async function latencyAndThroughput(
  name: string,
  run: Run,
  ctx: Pick<BenchContext, "quick" | "log">,
  o: Required<PipelineOptions>,
): Promise<Metrics> {
  const block = Math.min(50, o.runs);
  const { [name]: lat } = await interleaved({ [name]: run }, o.runs, block, o.warmup);
  const rps = await throughput(run, PIPELINE_INFLIGHT, o.throughputMs);
  ctx.log(`${name}: p50 ${lat?.p50.toFixed(2)} ms, p99 ${lat?.p99.toFixed(2)} ms, ${rps} runs/s`);
  return {
    [`${name}_p50_ms`]: lat?.p50 ?? NaN,
    [`${name}_p99_ms`]: lat?.p99 ?? NaN,
    [`${name}_throughput_rps`]: rps,
  };
}

/**
 * The pipelines' latency and throughput, one row per run. Needs `prepare(cloud)` from
 * examples/pipelines/models.ts first.
 *
 * @example
 * ```ts
 * await prepare(cloud);
 * const m = await pipelineCases(cloud, { quick: true, log: console.error }, { runs: 40 });
 * m.video_p50_ms;
 * ```
 */
export async function pipelineCases(
  cloud: Stratus,
  ctx: Pick<BenchContext, "quick" | "log">,
  options: PipelineOptions = {},
): Promise<Metrics> {
  const o: Required<PipelineOptions> = {
    runs: options.runs ?? (ctx.quick ? 100 : 400),
    throughputMs: options.throughputMs ?? (ctx.quick ? 2000 : 5000),
    compareCompete: options.compareCompete ?? true,
    warmup: options.warmup ?? 20,
  };
  const images = Array.from({ length: 64 }, (_, i) => syntheticImage(i));
  const cascade = await cascadeFlow("bench_cascade").deploy(cloud);
  const video = await videoFlow("bench_video").deploy(cloud);
  const translation = await translationFlow("bench_translation").deploy(cloud);
  const text = (i: number) => ({ text: TEXTS[i % TEXTS.length] as string, meanSteps: 40 });
  const m: Metrics = {
    ...(await latencyAndThroughput(
      "image_cascade",
      (i) => cascade.run([{ img: images[i % images.length] as Float32Array }]),
      ctx,
      o,
    )),
    ...(await latencyAndThroughput(
      "video",
      (i) => video.run([{ frame: i, img: images[i % images.length] as Float32Array }]),
      ctx,
      o,
    )),
    ...(await latencyAndThroughput("translation", (i) => translation.run([text(i)]), ctx, o)),
  };
  if (!o.compareCompete) return m;
  // Competitive execution's effect on the tail, both variants in the same interleaved run.
  const noCompete = await translationFlow("bench_translation_nc").deploy(cloud, {
    optimize: { compete: false },
  });
  const both = await interleaved(
    { compete: (i) => translation.run([text(i)]), single: (i) => noCompete.run([text(i)]) },
    ctx.quick ? 100 : 400,
    50,
    20,
  );
  m.translation_nocompete_p50_ms = both.single?.p50 ?? NaN;
  m.translation_nocompete_p99_ms = both.single?.p99 ?? NaN;
  m.translation_compete_p99_reduction = (both.single?.p99 ?? NaN) / (both.compete?.p99 ?? NaN);
  return m;
}

const ml: Benchmark = {
  name: "ml",
  description:
    "ONNX stage: one row per inference vs batches of 16; ML pipelines' latency and throughput",
  async run(ctx): Promise<Metrics> {
    let batching: Metrics;
    const cloud = await Stratus.local({ executors: EXECUTORS });
    try {
      await deploy(cloud, "examples/ml/functions.ts");
      await saveModel(cloud, "mlp", mlp());
      batching = await batchingGain(cloud, "mlp", ctx);
    } finally {
      await cloud.close();
    }
    const pipelines = await Stratus.local({ executors: PIPELINE_EXECUTORS });
    try {
      await prepare(pipelines);
      return { ...batching, ...(await pipelineCases(pipelines, ctx)) };
    } finally {
      await pipelines.close();
    }
  },
};
export default ml;

/**
 * ml: the ONNX stage under load, one row per inference against batches of rows per inference
 * (`batching_throughput_gain`), on a local cluster with 2 executors and the example ML module
 * deployed as `stratus deploy` would. The stage is the memory-bound MLP (512→2048→2048→512→10,
 * 6.3 M weights): at batch 1 every row streams all weights; a batch reuses them.
 *
 * The functions below are exported so the dataflow benchmark can fold these cases into its own.
 */
import { Stratus } from "../src/index.js";
import { deploy } from "../src/cli/deploy.js";
import { mlp, mulberry32, saveModel } from "../src/ml/index.js";
import type { Benchmark, BenchContext, Metrics } from "./lib/harness.js";
import { throughput } from "./lib/measure.js";

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

const ml: Benchmark = {
  name: "ml",
  description: "ONNX stage under load: one row per inference vs batches of 16",
  async run(ctx): Promise<Metrics> {
    const cloud = await Stratus.local({ executors: EXECUTORS });
    try {
      await deploy(cloud, "examples/ml/functions.ts");
      await saveModel(cloud, "mlp", mlp());
      return await batchingGain(cloud, "mlp", ctx);
    } finally {
      await cloud.close();
    }
  },
};
export default ml;

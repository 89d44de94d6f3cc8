/**
 * Dataflow: a typed Flow API over tables of rows, an optimizer (fusion, competitive execution,
 * locality, batching) and a compiler to Stratus functions and DAGs.
 *
 * @example
 * ```ts
 * import { Flow, Stratus } from "stratus";
 * const cloud = await Stratus.local();
 * const flow = Flow.create("words", { text: "string" });
 * const counted = flow.input
 *   .map("len", (ctx, r) => ({ word: r.text, n: r.text?.length ?? 0 }), {
 *     schema: { word: "string", n: "number" },
 *   })
 *   .groupby("word")
 *   .agg("sum", "n");
 * flow.output(counted);
 * const app = await flow.deploy(cloud);
 * await app.run([{ text: "a" }, { text: "a" }]); // [{ word: "a", sum: 2 }]
 * ```
 */
export { Flow, Grouped, Stage } from "./flow.js";
export type { CodeOptions, JoinOptions, MapOptions } from "./flow.js";
export { FlowApp } from "./app.js";
export type {
  DeployOptions,
  DeployedFunction,
  FlowFuture,
  FlowMetadata,
  RunOptions,
} from "./app.js";
export type { BatchOptions } from "./batcher.js";
export type { OptimizeOptions, Plan, PlannedFunction } from "./plan.js";
export { plan, passes } from "./plan.js";
export type { AggFn, JoinKind, OpSpec, ScalingHints, Table } from "./ops.js";
export type {
  ColumnType,
  ColumnTypes,
  Merge,
  NumericColumn,
  Row,
  Schema,
  Tensor,
} from "./schema.js";

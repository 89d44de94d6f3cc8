/**
 * DAGs more than one benchmark registers, so that each measures the same functions.
 */
import type { Stratus } from "../../src/index.js";

/**
 * `eo`: eo1 -> eo2, each function writing one key (`eo/1`, `eo/2`); `eo` of x is (x + 1) * 2.
 * Run read-atomic, it is the exactly-once DAG of the txn benchmark.
 */
export async function registerWritingDag(cloud: Stratus): Promise<void> {
  await cloud.register("eo1", async (ctx, x: number) => {
    await ctx.put("eo/1", x);
    return x + 1;
  });
  await cloud.register("eo2", async (ctx, x: number) => {
    await ctx.put("eo/2", x);
    return x * 2;
  });
  await cloud.registerDag("eo", { functions: ["eo1", "eo2"], edges: [["eo1", "eo2"]] });
}

import type { Stratus } from "../client/index.js";

/** The functions `npm start` registers, so a new user has something to call. */
export async function registerDemo(cloud: Stratus): Promise<void> {
  await cloud.register("inc", async (_ctx, x: number) => x + 1);
  await cloud.register("square", (_ctx, x: number) => x * x);
  await cloud.registerDag("pipeline", { functions: ["inc", "square"], edges: [["inc", "square"]] });
  await cloud.register("counter", async (ctx, key: string) => {
    const n = ((await ctx.get<number>(key)) ?? 0) + 1;
    await ctx.put(key, n);
    return n;
  });
}

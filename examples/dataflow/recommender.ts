/**
 * The recommender pipeline (Cloudflow's): per request, a user's 512-d vector and a category's
 * 2500x512 item matrix, both held in Stratus state; the top 5 items by dot product. The category
 * lookup comes first and its key is computed per row, so the locality pass runs the rest of the
 * flow on the node caching that category's matrix.
 *
 * Run: `npx tsx examples/dataflow/recommender.ts` (an embedded cluster; prints one answer).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Flow } from "../../src/index.js";
import type { Stratus } from "../../src/index.js";

export const DIM = 512;
export const ITEMS = 2500;

/** The flow: input `{ user, cat }`, output `{ user, cat, items, scores }`. */
export function recommenderFlow(name = "recommender") {
  const flow = Flow.create(name, { user: "number", cat: "number" });
  const withItems = flow.input.lookup((r) => `rec/cat/${r.cat}`, { as: "items", type: "tensor" });
  const withUser = withItems.lookup((r) => `rec/user/${r.user}`, { as: "vec", type: "tensor" });
  const top = withUser.map(
    "top5",
    (ctx, r) => {
      const m = r.items as Float32Array;
      const v = r.vec as Float32Array;
      const dim = v.length;
      const best: [number, number][] = [];
      for (let i = 0; i * dim < m.length; i++) {
        let s = 0;
        for (let j = 0, o = i * dim; j < dim; j++) s += (m[o + j] as number) * (v[j] as number);
        if (best.length < 5 || s > (best[best.length - 1] as [number, number])[1]) {
          best.push([i, s]);
          best.sort((a, b) => b[1] - a[1]);
          if (best.length > 5) best.pop();
        }
      }
      return {
        user: r.user,
        cat: r.cat,
        items: best.map((b) => b[0]),
        scores: best.map((b) => b[1]),
      };
    },
    { schema: { user: "number", cat: "number", items: "json", scores: "json" } },
  );
  return flow.output(top);
}

/** Deterministic pseudo-random floats (a seeded LCG), so runs are comparable. */
function seeded(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 32 - 0.5;
  }
  return out;
}

/** Stores `users` user vectors and `categories` item matrices. */
export async function seedRecommender(
  cloud: Stratus,
  users: number,
  categories: number,
): Promise<void> {
  for (let c = 0; c < categories; c++)
    await cloud.put(`rec/cat/${c}`, seeded(1000 + c, ITEMS * DIM));
  for (let u = 0; u < users; u++) await cloud.put(`rec/user/${u}`, seeded(u + 1, DIM));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { Stratus } = await import("../../src/index.js");
  const cloud = await Stratus.local({ executors: 2 });
  await seedRecommender(cloud, 4, 2);
  const app = await recommenderFlow().deploy(cloud);
  console.log(
    await app.run([
      { user: 1, cat: 0 },
      { user: 2, cat: 1 },
    ]),
  );
  await cloud.close();
}

/**
 * Video analysis (Cloudflow's): a detector scores every frame for people and cars; frames with a
 * person go to the person classifier and frames with a car to the car classifier, the two branches
 * in parallel; an outer join on the frame number keeps frames seen by either branch.
 *
 * Run: `npx tsx examples/pipelines/video.ts` (an embedded cluster; prints the rows).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Flow } from "../../src/index.js";
import { prepare } from "./models.js";

/** Input `{ frame, img }`; output `{ frame, pose, carType }` (null where a branch saw nothing). */
export function videoFlow(name = "video") {
  const flow = Flow.create(name, { frame: "number", img: "tensor" });
  const detected = flow.input.map(
    "detect",
    async (ctx, r) => {
      const [s] = await ctx.call<Float32Array[]>("inferRows", ["detector", [r.img]]);
      const scores = s as Float32Array;
      // The detector's outputs read as (person, background, car).
      return { frame: r.frame, img: r.img, person: scores[0] as number, car: scores[2] as number };
    },
    { schema: { frame: "number", img: "tensor", person: "number", car: "number" } },
  );
  const people = detected
    .filter("hasPerson", (ctx, r) => (r.person ?? 0) > 0.5)
    .map(
      "person",
      async (ctx, r) => {
        const [p] = await ctx.call<Float32Array[]>("inferRows", ["person", [r.img]]);
        const probs = p as Float32Array;
        let best = 0;
        for (let i = 1; i < probs.length; i++)
          if ((probs[i] as number) > (probs[best] as number)) best = i;
        return { frame: r.frame, pose: best };
      },
      { schema: { frame: "number", pose: "number" } },
    );
  const cars = detected
    .filter("hasCar", (ctx, r) => (r.car ?? 0) > 0.5)
    .map(
      "car",
      async (ctx, r) => {
        const [p] = await ctx.call<Float32Array[]>("inferRows", ["car", [r.img]]);
        const probs = p as Float32Array;
        let best = 0;
        for (let i = 1; i < probs.length; i++)
          if ((probs[i] as number) > (probs[best] as number)) best = i;
        return { frame: r.frame, carType: best };
      },
      { schema: { frame: "number", carType: "number" } },
    );
  return flow.output(people.join(cars, { on: "frame", how: "outer" }));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { Stratus } = await import("../../src/index.js");
  const { syntheticImage } = await import("../../src/ml/index.js");
  const cloud = await Stratus.local({ executors: 2 });
  await prepare(cloud, ["video"]);
  const app = await videoFlow().deploy(cloud);
  console.log(
    await app.run(Array.from({ length: 6 }, (_, i) => ({ frame: i, img: syntheticImage(i) }))),
  );
  await cloud.close();
}

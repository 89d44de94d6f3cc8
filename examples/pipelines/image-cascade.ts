/**
 * The image cascade (Cloudflow's): a small CNN classifies every image; only images it is unsure
 * of (confidence < 0.85) go to the big CNN; a left join puts both answers on one row.
 *
 * Run: `npx tsx examples/pipelines/image-cascade.ts` (an embedded cluster; prints the rows).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Flow } from "../../src/index.js";
import { prepare } from "./models.js";

/** Input `{ img }` (3x64x64 floats); output `{ img, label, conf, bigLabel, bigConf }`. */
export function cascadeFlow(name = "cascade") {
  const flow = Flow.create(name, { img: "tensor" });
  const small = flow.input.map(
    "small",
    async (ctx, r) => {
      const [p] = await ctx.call<Float32Array[]>("inferRows", ["cnn-small", [r.img]]);
      const probs = p as Float32Array;
      let best = 0;
      for (let i = 1; i < probs.length; i++)
        if ((probs[i] as number) > (probs[best] as number)) best = i;
      return { img: r.img, label: best, conf: probs[best] as number };
    },
    { schema: { img: "tensor", label: "number", conf: "number" } },
  );
  const big = small
    .filter("unsure", (ctx, r) => (r.conf ?? 0) < 0.85)
    .map(
      "big",
      async (ctx, r) => {
        const [p] = await ctx.call<Float32Array[]>("inferRows", ["cnn-big", [r.img]]);
        const probs = p as Float32Array;
        let best = 0;
        for (let i = 1; i < probs.length; i++)
          if ((probs[i] as number) > (probs[best] as number)) best = i;
        return { bigLabel: best, bigConf: probs[best] as number };
      },
      { schema: { bigLabel: "number", bigConf: "number" } },
    );
  return flow.output(small.join(big, { how: "left" }));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { Stratus } = await import("../../src/index.js");
  const { syntheticImage } = await import("../../src/ml/index.js");
  const cloud = await Stratus.local({ executors: 2 });
  await prepare(cloud, ["cascade"]);
  const app = await cascadeFlow().deploy(cloud);
  const rows = await app.run(Array.from({ length: 6 }, (_, i) => ({ img: syntheticImage(i) })));
  console.log(rows.map(({ img: _img, ...r }) => r));
  await cloud.close();
}

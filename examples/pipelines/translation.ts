/**
 * Translation (Cloudflow's): fastText identifies each text's language; French texts go to one
 * translator and German texts to another. Decoding length varies, so each translator is a
 * high-variance stage: with competitive execution it runs as 2 replicas, the first answer wins and
 * the other is cancelled.
 *
 * Run: `npx tsx examples/pipelines/translation.ts` (an embedded cluster; prints the rows).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Flow } from "../../src/index.js";
import { prepare } from "./models.js";

/**
 * Input `{ text, meanSteps }` (the translators' mean decoding steps: a column, since stage code
 * cannot capture variables); output `{ text, lang, tokens, steps }` for French and German texts.
 */
export function translationFlow(name = "translation") {
  const flow = Flow.create(name, { text: "string", meanSteps: "number" });
  const identified = flow.input.map(
    "lid",
    async (ctx, r) => {
      const g = await ctx.call<{ lang: string } | undefined>("detectLanguage", [r.text]);
      return { text: r.text, meanSteps: r.meanSteps, lang: g?.lang ?? "unknown" };
    },
    { schema: { text: "string", meanSteps: "number", lang: "string" } },
  );
  const schema = { text: "string", lang: "string", tokens: "json", steps: "number" } as const;
  const french = identified
    .filter("isFrench", (ctx, r) => r.lang === "fr")
    .map(
      "translateFr",
      async (ctx, r) => {
        const t = await ctx.call<{ tokens: number[]; steps: number }>("translateText", [
          "translator-fr",
          r.text,
          r.meanSteps,
        ]);
        return { text: r.text, lang: r.lang, tokens: t.tokens, steps: t.steps };
      },
      { schema, highVariance: true, replicas: 2 },
    );
  const german = identified
    .filter("isGerman", (ctx, r) => r.lang === "de")
    .map(
      "translateDe",
      async (ctx, r) => {
        const t = await ctx.call<{ tokens: number[]; steps: number }>("translateText", [
          "translator-de",
          r.text,
          r.meanSteps,
        ]);
        return { text: r.text, lang: r.lang, tokens: t.tokens, steps: t.steps };
      },
      { schema, highVariance: true, replicas: 2 },
    );
  return flow.output(french.union(german));
}

/** Example texts: French and German sentences, alternating. */
export const TEXTS = [
  "Bonjour tout le monde, comment allez-vous aujourd'hui ?",
  "Guten Morgen, wie geht es dir heute?",
  "Le chat dort sur le canapé depuis ce matin.",
  "Der Zug nach Berlin fährt um acht Uhr ab.",
  "Nous allons au marché acheter des légumes frais.",
  "Ich habe das Buch gestern Abend zu Ende gelesen.",
];

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { Stratus } = await import("../../src/index.js");
  const cloud = await Stratus.local({ executors: 2 });
  await prepare(cloud, ["translation"]);
  const app = await translationFlow().deploy(cloud);
  console.log(await app.run(TEXTS.map((text) => ({ text, meanSteps: 40 }))));
  await cloud.close();
}

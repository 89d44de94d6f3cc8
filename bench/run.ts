/**
 * `npm run bench -- <name> [--quick]`: runs one benchmark (see bench/<name>.ts), prints its table
 * and writes bench/results/<name>.json.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { formatTable, runBenchmark } from "./lib/harness.js";
import type { Benchmark } from "./lib/harness.js";

const here = import.meta.dirname;
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const name = args.find((a) => !a.startsWith("--"));
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--quick]\nbenchmarks: ${available.join(", ")}`);
  process.exit(name === undefined ? 2 : 1);
}
const mod = (await import(join(here, `${name}.ts`))) as { default: Benchmark };
const t0 = performance.now();
const result = await runBenchmark(mod.default, quick, join(here, "results"));
console.log(`${result.name}${quick ? " (quick)" : ""}: ${mod.default.description}`);
console.log(formatTable(result.metrics));
console.log(
  `took ${((performance.now() - t0) / 1000).toFixed(1)} s; wrote bench/results/${name}.json`,
);
process.exit(0);

/**
 * `npm run bench -- <name> [--quick]`: runs one benchmark (see bench/<name>.ts), prints its table
 * and writes bench/results/<name>.json.
 * `npm run bench -- all [--quick] [--only=a,b]`: every benchmark (or those named) under a progress
 * bar, then the report.
 * `npm run bench -- report`: only regenerates docs/benchmarks.md and its PNG charts from
 * bench/results/*.json and bench/targets.json.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { formatTable, runBenchmark } from "./lib/harness.js";
import type { Benchmark } from "./lib/harness.js";
import { runAll } from "./report/all.js";
import { writeReport } from "./report/report.js";
import type { Targets } from "./report/report.js";

const here = import.meta.dirname;
const root = join(here, "..");
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();

function report(): void {
  const targets = JSON.parse(readFileSync(join(here, "targets.json"), "utf8")) as Targets;
  const written = writeReport({
    resultsDir: join(here, "results"),
    targets,
    docsFile: join(root, "docs", "benchmarks.md"),
    chartsDir: join(root, "docs", "benchmarks"),
  });
  console.log(`wrote ${written.map((f) => f.slice(root.length + 1)).join(", ")}`);
}

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const name = args.find((a) => !a.startsWith("--"));
if (name === "report") {
  report();
  process.exit(0);
}
if (name === "all") {
  const only = args
    .find((a) => a.startsWith("--only="))
    ?.slice("--only=".length)
    .split(",");
  const unknown = (only ?? []).filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    console.error(`no benchmark ${unknown.join(", ")}; benchmarks: ${available.join(", ")}`);
    process.exit(1);
  }
  const { failed, logDir } = await runAll(only ?? available, quick, join(here, "run.ts"));
  report();
  console.log(`logs of every benchmark: ${logDir}`);
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(", ")} (see their logs)`);
    process.exit(1);
  }
  process.exit(0);
}
if (name === undefined || !available.includes(name)) {
  console.error(
    `usage: npm run bench -- <name>|all [--quick] | report\nbenchmarks: ${available.join(", ")}`,
  );
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

/**
 * The benchmark contract: `npm run bench -- <name> [--quick]` runs one benchmark, prints a table of
 * its metrics and writes `bench/results/<name>.json` as
 * `{ name, date, machine: { cpus, node }, metrics: { <metric>: number } }`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

export type Metrics = Record<string, number>;

export interface BenchContext {
  /** A short run (the whole benchmark under 60 s) for CI and quick checks. */
  quick: boolean;
  /** Progress output, to stderr so the table stays clean. */
  log(msg: string): void;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Metrics>;
}

export interface BenchResult {
  name: string;
  date: string;
  machine: { cpus: number; node: string };
  quick: boolean;
  metrics: Metrics;
}

export function formatTable(metrics: Metrics): string {
  const rows = Object.entries(metrics).map(([k, v]) => [k, formatNumber(v)] as const);
  const w = Math.max(6, ...rows.map(([k]) => k.length));
  const vw = Math.max(5, ...rows.map(([, v]) => v.length));
  const line = `+-${"-".repeat(w)}-+-${"-".repeat(vw)}-+`;
  return [
    line,
    `| ${"metric".padEnd(w)} | ${"value".padStart(vw)} |`,
    line,
    ...rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v.padStart(vw)} |`),
    line,
  ].join("\n");
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

export async function runBenchmark(
  b: Benchmark,
  quick: boolean,
  resultsDir: string,
): Promise<BenchResult> {
  const ctx: BenchContext = { quick, log: (m) => process.stderr.write(`[${b.name}] ${m}\n`) };
  const metrics = await b.run(ctx);
  const result: BenchResult = {
    name: b.name,
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version },
    quick,
    metrics,
  };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${b.name}.json`), JSON.stringify(result, null, 2) + "\n");
  appendHistory(resultsDir, result);
  return result;
}

/** How many runs of each benchmark `bench/results/history/<name>.json` keeps, newest last. */
export const HISTORY_RUNS = 10;

/** A benchmark's earlier runs, oldest first (empty when it has none). */
export function readHistory(resultsDir: string, name: string): BenchResult[] {
  try {
    const runs = JSON.parse(
      readFileSync(join(resultsDir, "history", `${name}.json`), "utf8"),
    ) as unknown;
    return Array.isArray(runs) ? (runs as BenchResult[]) : [];
  } catch {
    return [];
  }
}

/**
 * Keeps the run in the benchmark's history: a target counts as met only when each of three
 * consecutive quick runs meets it, and the report shows the worst of them.
 */
function appendHistory(resultsDir: string, result: BenchResult): void {
  const runs = [...readHistory(resultsDir, result.name), result].slice(-HISTORY_RUNS);
  mkdirSync(join(resultsDir, "history"), { recursive: true });
  writeFileSync(
    join(resultsDir, "history", `${result.name}.json`),
    JSON.stringify(runs, null, 1) + "\n",
  );
}

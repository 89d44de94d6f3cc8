/**
 * `npm run bench -- report`: from bench/results/*.json and the targets, writes
 * docs/benchmarks.md (every targeted metric against its target, with a pass or short mark, the
 * peers measured in the same run, then every metric of every benchmark) and PNG charts beside it.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { readHistory } from "../lib/harness.js";
import type { BenchResult } from "../lib/harness.js";
import { barChartPng, fmt } from "./chart.js";
import type { Bar } from "./chart.js";
import { PEERS } from "./peers.js";

/** `{ benchmark: { metric: [op, bound] } }`, as in targets.json. */
export type Targets = Record<string, Record<string, [string, number]>>;

export interface ReportOptions {
  /** Folder of `<name>.json` results. */
  resultsDir: string;
  targets: Targets;
  /** The markdown file to write, e.g. docs/benchmarks.md. */
  docsFile: string;
  /** Folder for the PNG charts (linked relative to docsFile). */
  chartsDir: string;
  /** Date printed as "generated"; for reproducible output in tests. @default now */
  now?: Date;
}

export type Mark = "pass" | "short" | "not run";

export interface Verdict {
  benchmark: string;
  metric: string;
  op: string;
  bound: number;
  value: number | undefined;
  mark: Mark;
  /** How far past the target: value/bound for >=, bound/value for <=; 1 = exactly on it. */
  headroom: number | undefined;
  /**
   * The last three quick runs of the benchmark (from its history): their worst value and whether
   * each of them met the target. A target counts as met only then; absent with fewer runs.
   */
  lastThree?: { worst: number | undefined; met: boolean };
}

/** The worst of several values for `[op, bound]`: the lowest for >=, the highest otherwise. */
export function worstOf(
  op: string,
  bound: number,
  values: (number | undefined)[],
): number | undefined {
  if (values.some((v) => v === undefined || !Number.isFinite(v))) return undefined;
  const vs = values as number[];
  if (op === ">=") return Math.min(...vs);
  if (op === "<=") return Math.max(...vs);
  return vs.find((v) => v !== bound) ?? bound;
}

/** Whether a value meets `[op, bound]`. */
export function judge(op: string, bound: number, value: number | undefined): Mark {
  if (value === undefined || !Number.isFinite(value)) return "not run";
  const ok =
    op === ">=" ? value >= bound : op === "<=" ? value <= bound : op === "==" && value === bound;
  return ok ? "pass" : "short";
}

export function readResults(dir: string): BenchResult[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as BenchResult)
    .filter((r) => typeof r.name === "string" && typeof r.metrics === "object");
}

export function verdicts(
  results: BenchResult[],
  targets: Targets,
  history: (name: string) => BenchResult[] = () => [],
): Verdict[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const out: Verdict[] = [];
  for (const [benchmark, metrics] of Object.entries(targets)) {
    for (const [metric, [op, bound]] of Object.entries(metrics)) {
      const value = byName.get(benchmark)?.metrics[metric];
      const mark = judge(op, bound, value);
      let headroom: number | undefined;
      if (value !== undefined && op === ">=") headroom = value / bound;
      if (value !== undefined && op === "<=") headroom = value === 0 ? Infinity : bound / value;
      const v: Verdict = { benchmark, metric, op, bound, value, mark, headroom };
      const quick = history(benchmark).filter((r) => r.quick);
      if (quick.length >= 3) {
        const values = quick.slice(-3).map((r) => r.metrics[metric]);
        const met = values.every((x) => judge(op, bound, x) === "pass");
        v.lastThree = { worst: worstOf(op, bound, values), met };
      }
      out.push(v);
    }
  }
  return out;
}

const MARK: Record<Mark, string> = { pass: "✅ pass", short: "❌ short", "not run": "⬜ not run" };

/** Writes the markdown and the charts; returns the paths written. */
export function writeReport(o: ReportOptions): string[] {
  const results = readResults(o.resultsDir);
  const vs = verdicts(results, o.targets, (name) => readHistory(o.resultsDir, name));
  mkdirSync(o.chartsDir, { recursive: true });
  mkdirSync(dirname(o.docsFile), { recursive: true });
  const written: string[] = [];
  const link = (file: string): string => relative(dirname(o.docsFile), file).split("\\").join("/");
  const png = (name: string, bytes: Buffer): string => {
    const file = join(o.chartsDir, `${name}.png`);
    writeFileSync(file, bytes);
    written.push(file);
    return link(file);
  };

  const ratioBars = (list: Verdict[]): Bar[] =>
    list
      .filter((v) => v.headroom !== undefined && Number.isFinite(v.headroom))
      .map((v) => ({
        label: `${v.benchmark}.${v.metric}`,
        value: v.headroom as number,
        target: 1,
        ok: v.mark === "pass",
        note: `${fmt(v.value as number)} (${v.op} ${fmt(v.bound)})`,
      }));
  const lines: string[] = [
    "# Benchmarks",
    "",
    `Generated by \`npm run bench -- report\` from \`bench/results/*.json\` on ${(o.now ?? new Date()).toISOString().slice(0, 10)};`,
    "`npm run bench -- all` runs every benchmark first. Targets come from `bench/targets.json`.",
    "A ratio target is met when the metric is on the right side of its bound; the charts show",
    "each metric as a multiple of its target (1 = exactly on it, right of the red tick = met).",
    "A target counts as met only when each of the last three quick runs meets it",
    "(`bench/results/history/`); that column shows the worst of the three.",
    "",
    "## Against targets",
    "",
    "| benchmark | metric | measured | target | status | last 3 quick runs: worst | peers (same run) |",
    "| --- | --- | ---: | --- | --- | --- | --- |",
  ];
  const byName = new Map(results.map((r) => [r.name, r]));
  for (const v of vs) {
    const r = byName.get(v.benchmark);
    const peers = (PEERS[v.benchmark] ?? [])
      .filter((p) => r?.metrics[p.metric] !== undefined)
      .map((p) => `${p.label}: ${fmt(r?.metrics[p.metric] as number)}`)
      .join("; ");
    const measured = v.value === undefined ? "–" : fmt(v.value);
    const three =
      v.lastThree === undefined
        ? "fewer than 3"
        : `${v.lastThree.worst === undefined ? "–" : fmt(v.lastThree.worst)} ${v.lastThree.met ? "✅ met in all 3" : "❌ not in all 3"}`;
    lines.push(
      `| ${v.benchmark} | \`${v.metric}\` | ${measured} | ${v.op} ${fmt(v.bound)} | ${MARK[v.mark]} | ${three} | ${peers} |`,
    );
  }
  const passed = vs.filter((v) => v.mark === "pass").length;
  const short = vs.filter((v) => v.mark === "short").length;
  lines.push(
    "",
    `${passed} of ${vs.length} targets met, ${short} short, ${vs.length - passed - short} not run.`,
    "",
  );
  const all = ratioBars(vs);
  if (all.length > 0) {
    const file = png(
      "targets",
      barChartPng({
        title: "Every target: measured / target",
        axis: "multiple of target",
        bars: all,
        log: true,
      }),
    );
    lines.push(`![every metric against its target](${file})`, "");
  }

  lines.push("## Every benchmark", "");
  for (const r of results) {
    lines.push(
      `### ${r.name}`,
      "",
      `${r.date.slice(0, 19).replace("T", " ")} UTC, ${r.machine.cpus} CPUs, Node ${r.machine.node}${r.quick ? ", **quick run**" : ""}.`,
      "",
    );
    const mine = ratioBars(vs.filter((v) => v.benchmark === r.name));
    if (mine.length > 0) {
      const file = png(
        r.name,
        barChartPng({
          title: `${r.name}: measured / target`,
          axis: "multiple of target",
          bars: mine,
        }),
      );
      lines.push(`![${r.name} against its targets](${file})`, "");
    }
    lines.push("| metric | value |", "| --- | ---: |");
    for (const [k, v] of Object.entries(r.metrics)) lines.push(`| \`${k}\` | ${fmt(v)} |`);
    lines.push("");
  }
  writeFileSync(o.docsFile, lines.join("\n"));
  written.push(o.docsFile);
  return written;
}

/**
 * `npm run bench -- report` from fixture results: the markdown table marks each target pass,
 * short or not run, and the charts are real PNG files (rendered by resvg, no browser).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { judge, worstOf, writeReport } from "../../bench/report/report.js";
import { HISTORY_RUNS, readHistory, runBenchmark } from "../../bench/lib/harness.js";
import type { Targets } from "../../bench/report/report.js";

const fixtures = join(import.meta.dirname, "fixtures", "results");
const targets: Targets = {
  alpha: { speedup: [">=", 2], overhead: ["<=", 1.5], lost: ["==", 0] },
  beta: { p50_ms: ["<=", 1] },
  gamma: { ratio: [">=", 5] },
};

/** Width and height from a PNG's IHDR chunk, after checking its signature. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(b.subarray(12, 16).toString("ascii"), "IHDR");
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe("bench: report", () => {
  it("judges each target by its operator", () => {
    assert.equal(judge(">=", 2, 2), "pass");
    assert.equal(judge(">=", 2, 1.99), "short");
    assert.equal(judge("<=", 1.5, 1.8), "short");
    assert.equal(judge("==", 0, 0), "pass");
    assert.equal(judge("==", 0, 1), "short");
    assert.equal(judge(">=", 5, undefined), "not run");
  });

  it("writes a table with a pass/short mark per target, every metric, and PNG charts", () => {
    const out = mkdtempSync(join(tmpdir(), "stratus-report-"));
    const docsFile = join(out, "docs", "benchmarks.md");
    const chartsDir = join(out, "docs", "benchmarks");
    writeReport({ resultsDir: fixtures, targets, docsFile, chartsDir, now: new Date(0) });
    const md = readFileSync(docsFile, "utf8");
    const row = (bench: string, metric: string): string =>
      md.split("\n").find((l) => l.startsWith(`| ${bench} | \`${metric}\``)) ??
      assert.fail(`no row for ${bench}.${metric}`);
    assert.match(row("alpha", "speedup"), /\| 3\.50 \| >= 2 \| ✅ pass \|/);
    assert.match(row("alpha", "overhead"), /\| 1\.80 \| <= 1\.50 \| ❌ short \|/);
    assert.match(row("alpha", "lost"), /\| 0 \| == 0 \| ✅ pass \|/);
    assert.match(row("beta", "p50_ms"), /✅ pass/);
    assert.match(row("gamma", "ratio"), /\| – \| >= 5 \| ⬜ not run \|/);
    assert.match(md, /3 of 5 targets met, 1 short, 1 not run\./);
    // The last three quick runs (the full run between them does not count): the latest speedup
    // passes, but one of the three did not; lost was 0 in each.
    assert.match(row("alpha", "speedup"), /\| 1\.90 ❌ not in all 3 \|/);
    assert.match(row("alpha", "overhead"), /\| 1\.80 ❌ not in all 3 \|/);
    assert.match(row("alpha", "lost"), /\| 0 ✅ met in all 3 \|/);
    assert.match(row("beta", "p50_ms"), /\| fewer than 3 \|/);
    assert.match(md, /\| `peer_ops` \| 120 \|/, "every metric listed, not only targeted ones");
    assert.match(md, /!\[every metric against its target\]\(benchmarks\/targets\.png\)/);

    const pngs = readdirSync(chartsDir).sort();
    assert.deepEqual(pngs, ["alpha.png", "beta.png", "targets.png"]);
    for (const f of pngs) {
      const { width, height } = pngSize(join(chartsDir, f));
      assert.ok(width > 100 && height > 50, `${f}: ${width}x${height}`);
    }
  });

  it("the worst of three runs is the lowest for >=, the highest for <=, the miss for ==", () => {
    assert.equal(worstOf(">=", 2, [3, 1.5, 2.5]), 1.5);
    assert.equal(worstOf("<=", 1.5, [1.2, 1.6, 1.4]), 1.6);
    assert.equal(worstOf("==", 0, [0, 2, 0]), 2);
    assert.equal(worstOf(">=", 2, [3, undefined, 2.5]), undefined);
  });

  it("each run of a benchmark is kept in its history, the newest last, up to a bound", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stratus-history-"));
    let n = 0;
    const b = { name: "tiny", description: "", run: () => Promise.resolve({ n: n++ }) };
    for (let i = 0; i < HISTORY_RUNS + 2; i++) await runBenchmark(b, i % 2 === 0, dir);
    const runs = readHistory(dir, "tiny");
    assert.equal(runs.length, HISTORY_RUNS);
    assert.deepEqual(
      runs.map((r) => r.metrics["n"]),
      Array.from({ length: HISTORY_RUNS }, (_, i) => i + 2),
    );
    assert.equal(runs[0]?.quick, true);
  });

  it("bench/run.ts refuses an unknown benchmark with its usage", async () => {
    const run = promisify(execFile);
    const root = join(import.meta.dirname, "..", "..");
    const bad = await run(process.execPath, ["--import", "tsx", "bench/run.ts", "no-such"], {
      cwd: root,
    }).then(
      () => assert.fail("an unknown benchmark ran"),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /usage: npm run bench -- <name>\|all \[--quick\] \| report/);
  });
});

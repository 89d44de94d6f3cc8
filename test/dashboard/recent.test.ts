/**
 * The pieces behind the dashboard, in process: the scheduler's bounded ring of recent runs and
 * per-second figures, and the stateless session cookies.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Sessions } from "../../src/dashboard/auth.js";
import { RecentRuns } from "../../src/scheduler/index.js";
import type { FinishedRun } from "../../src/scheduler/index.js";

const run = (name: string, ms: number, ok = true): FinishedRun => ({
  run: `${name}-${ms}`,
  name,
  kind: "call",
  startedAt: 0,
  ms,
  ok,
  attempts: 1,
  placed: { [name]: "n-1" },
  ...(ok ? {} : { error: { code: "FUNCTION_ERROR", message: "x" } }),
});

describe("dashboard: recent runs", () => {
  it("keeps the newest runs only, and every name's totals", () => {
    const recent = new RecentRuns({ keep: 5, now: () => 10_000 });
    for (let i = 0; i < 100; i++) recent.record(run("f", i, i % 10 !== 0));
    const runs = recent.runs();
    assert.equal(runs.length, 5);
    assert.equal(runs[0]?.ms, 99, "newest first");
    const [f] = recent.names();
    assert.equal(f?.calls, 100);
    assert.equal(f?.errors, 10);
  });

  it("keeps failed runs apart from successes, and counts functions run as DAG stages", () => {
    const recent = new RecentRuns({ keep: 5 });
    recent.record(run("boom", 1, false));
    for (let i = 0; i < 20; i++) recent.record(run("f", i));
    assert.ok(!recent.runs().some((r) => r.name === "boom"), "pushed out of the ring of runs");
    assert.equal(recent.errors()[0]?.name, "boom", "still among the errors");
    recent.record({ ...run("pipe", 1), kind: "dag", placed: { inc: "n-1", square: "n-2" } });
    assert.equal(recent.stageRuns("square"), 1);
    assert.equal(recent.stageRuns("f"), 0);
  });

  it("computes calls per second and percentiles over the complete seconds of its window", () => {
    let now = 100_000;
    const recent = new RecentRuns({ rateWindowS: 10, now: () => now });
    for (let s = 0; s < 10; s++) {
      for (let i = 1; i <= 100; i++) recent.record(run("f", i));
      now += 1000;
    }
    const [f] = recent.names();
    assert.equal(f?.callsPerSec, 100);
    assert.equal(f?.p50Ms, 51);
    assert.equal(f?.p99Ms, 100);
    const series = recent.series();
    assert.equal(series.length, 120);
    assert.equal(series.at(-1)?.calls, 0, "the current second has no runs yet");
    assert.equal(series.at(-2)?.calls, 100);
  });

  it("stays bounded: samples per second, seconds kept, and names", () => {
    let now = 0;
    const recent = new RecentRuns({ seconds: 3, samplesPerSecond: 8, maxNames: 4, now: () => now });
    for (let i = 0; i < 10_000; i++) recent.record(run("f", i));
    const internals = recent as unknown as {
      tracks: Map<string, { buckets: { samples: number[] }[] }>;
    };
    assert.equal(internals.tracks.get("f")?.buckets[0]?.samples.length, 8);
    for (let s = 0; s < 10; s++) {
      now += 1000;
      recent.record(run("f", 1));
    }
    assert.ok((internals.tracks.get("f")?.buckets.length ?? 0) <= 3);
    for (let i = 0; i < 20; i++) recent.record(run(`g${i}`, 1));
    assert.equal(recent.names().length, 4);
    assert.equal(recent.names()[0]?.name, "g19", "most recently used first");
  });
});

describe("dashboard: sessions", () => {
  it("accepts its own cookie until it expires, and no forged, altered or foreign one", () => {
    let now = 1_000;
    const s = new Sessions("the-token", 60_000, () => now);
    const c = s.issue();
    assert.equal(s.valid(c), true);
    assert.ok(!c.includes("the-token"));
    assert.equal(s.valid(undefined), false);
    assert.equal(s.valid("garbage"), false);
    const [exp, mac] = c.split(".") as [string, string];
    assert.equal(s.valid(`${Number(exp) + 1}.${mac}`), false, "a longer expiry breaks the mac");
    assert.equal(new Sessions("other-token", 60_000, () => now).valid(c), false);
    assert.equal(s.isToken("the-token"), true);
    assert.equal(s.isToken("the-toke"), false);
    now += 60_001;
    assert.equal(s.valid(c), false, "expired");
  });
});

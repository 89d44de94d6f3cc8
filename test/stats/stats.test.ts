/**
 * Statistics of a known workload: N calls of which M fail, run through an embedded process (real
 * executors, memory store). The cluster-wide snapshot read back from the store shows exactly N
 * calls and M errors, latencies that bracket the function's own 20 ms sleep, a queueing delay when
 * more calls than executors arrive, and `/metrics` carries the per-function series.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess, metricsRegistry } from "../../src/cluster/index.js";
import { Stratus, isStratusError } from "../../src/index.js";
import {
  StatsRecorder,
  parseStatsRecord,
  readClusterStats,
  latencyHistogram,
  percentileMs,
} from "../../src/stats/index.js";
import { addEncoded } from "../../src/stats/index.js";
import { until } from "../../testing/processes.js";

const N = 120;
const M = 17;

describe("stats: a known workload", () => {
  let proc: StratusProcess;
  let cloud: Stratus;

  before(async () => {
    proc = await StratusProcess.start({
      token: "t",
      executors: 2,
      stats: { intervalMs: 100 },
    });
    cloud = await Stratus.connect(proc.url, { token: "t" });
    // One call per executor at a time, so that calls outnumbering executors wait.
    await cloud.register(
      "nap",
      async (_ctx, x: number) => {
        await new Promise((r) => setTimeout(r, 20));
        if (x < 0) throw new Error(`negative ${x}`);
        return x;
      },
      { concurrency: 1 },
    );
    // 8 callers on 2 executors: calls wait for an executor, so queueing delay is real.
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const i = next++;
          try {
            await cloud.call("nap", [i < M ? -1 - i : i]);
          } catch (e) {
            assert.ok(isStratusError(e) && e.code === "FUNCTION_ERROR");
            failed++;
          }
        }
      }),
    );
    assert.equal(failed, M); // the control: the workload really failed M times
  });

  after(async () => {
    await cloud.close();
    await proc.close();
  });

  it("counts N calls and M errors cluster-wide, with latency and queueing delay", async () => {
    await until(
      async () => (await readClusterStats(proc.store)).functions.nap?.calls === N,
      10_000,
      "N calls in the published statistics",
    );
    const s = await readClusterStats(proc.store);
    const nap = s.functions.nap!;
    assert.equal(nap.calls, N);
    assert.equal(nap.errors, M);
    // Callers saw at least the 20 ms sleep; the p99 is at least the p50.
    assert.ok(nap.p50Ms >= 19, `p50 ${nap.p50Ms}`);
    assert.ok(nap.p99Ms >= nap.p50Ms);
    const node = s.nodes[proc.id]!;
    assert.equal(node.executors, 2);
    assert.ok(node.utilisation >= 0 && node.utilisation <= 1);
    assert.equal(s.runs.nap?.calls, N);
    assert.equal(s.runs.nap?.errors, M);
    assert.ok(typeof s.at === "number");
  });

  it("records queueing delay when calls outnumber executors", async () => {
    // Run 8 more at once on 2 executors and read the window they land in.
    const seen: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, i) => cloud.call("nap", [i])));
    await until(
      async () => {
        const s = await readClusterStats(proc.store);
        seen.push(s.functions.nap?.queueMsP99 ?? 0);
        return (s.functions.nap?.calls ?? 0) === N + 8;
      },
      10_000,
      "8 more calls",
    );
    // 8 calls of 20 ms on 2 executors: the last waited about 60 ms for one.
    assert.ok(Math.max(...seen) >= 20, `queue p99 seen: ${seen.join(",")}`);
  });

  it("exports per-function series at /metrics", async () => {
    await proc.stats.publish();
    const text = await metricsRegistry(proc).metrics();
    assert.match(
      text,
      new RegExp(`stratus_function_calls_total\\{fn="nap",process="${proc.id}"\\} ${N + 8}`),
    );
    assert.match(text, /stratus_function_errors_total\{fn="nap",process="[^"]+"\} 17/);
    assert.match(text, /stratus_caller_runs_total\{name="nap",process="[^"]+"\} 128/);
    assert.match(text, /stratus_node_utilisation\{process="[^"]+"\} [0-9.]+/);
  });
});

describe("stats: recorder and records", () => {
  it("a recorder's window starts again after it is taken; totals stay", () => {
    const r = new StatsRecorder(3);
    for (let i = 0; i < 100; i++) r.record("f", 1, 10 + i, i % 10 !== 0);
    const w1 = r.window().f!;
    assert.deepEqual([w1.c, w1.e, w1.wc, w1.we], [100, 10, 100, 10]);
    const h = latencyHistogram();
    assert.ok(addEncoded(h, w1.l!));
    assert.equal(h.totalCount, 100);
    assert.ok(Math.abs(percentileMs(h, 50) - 59) <= 1, `p50 ${percentileMs(h, 50)}`);
    const w2 = r.window().f!;
    assert.deepEqual([w2.c, w2.e, w2.wc, w2.we, w2.l], [100, 10, 0, 0, undefined]);
    assert.equal(w2.a, w1.a); // since-start histogram kept, not re-encoded
    // Past maxFunctions, calls are counted under (other), never dropped.
    for (const fn of ["g", "h", "i"]) r.record(fn, 0, 1, true);
    const w3 = r.window();
    assert.deepEqual(Object.keys(w3).sort(), ["(other)", "f", "g"]);
    assert.equal(w3["(other)"]!.c, 2);
  });

  it("records of another shape are refused", () => {
    const good = { v: 1, id: "n", at: 1, ms: 500, exec: { f: { c: 1, e: 0, wc: 1, we: 0 } } };
    assert.ok(parseStatsRecord(good));
    for (const bad of [
      null,
      [],
      { ...good, v: 2 },
      { ...good, extra: 1 },
      { ...good, exec: { f: { c: -1, e: 0, wc: 1, we: 0 } } },
      { ...good, exec: { f: { c: 1, e: 0, wc: 1, we: 0, toString: 1 } } },
      { ...good, node: { executors: 1 } },
      JSON.parse('{"v":1,"id":"n","at":1,"ms":5,"__proto__":{"x":1}}'),
    ]) {
      assert.equal(parseStatsRecord(bad), undefined, JSON.stringify(bad));
    }
  });
});

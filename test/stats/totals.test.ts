/**
 * Cluster totals that never go backwards, and per-function counts that agree with each other.
 * Real processes over one Redis: a scheduler without executors and a node that runs everything.
 * The node runs N single calls of `square` and D runs of the DAG inc → square, then stops (its
 * statistics record is deleted, as a dead node's expires). Read from the store alone the totals
 * fall to nothing (the control); the scheduler's dashboard keeps them. `inDags` counts exactly
 * the DAG stages, never more than `calls`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import type { DashboardState } from "../../src/dashboard/index.js";
import { DepartedTotals, readClusterStats } from "../../src/stats/index.js";
import type { StatsRecord } from "../../src/stats/index.js";
import { openStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import { freePort, RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

const N = 12;
const D = 7;

describe("stats: totals across a node's departure", () => {
  let redis: RedisServer;
  let sched: StratusProcess;
  let node: StratusProcess;
  let cloud: Stratus;
  let store: Store;

  before(async () => {
    redis = await RedisServer.start();
    const common = { token: "t", store: redis.url, stats: { intervalMs: 100 } };
    sched = await StratusProcess.start({ ...common, executors: 0, httpPort: await freePort() });
    node = await StratusProcess.start({ ...common, executors: 1, scheduler: false });
    store = await openStore(redis.url);
    cloud = await Stratus.connect(sched.url, { token: "t" });
    await cloud.register("inc", (_ctx, x: number) => x + 1);
    await cloud.register("square", (_ctx, x: number) => x * x);
    await cloud.registerDag("pipe", { functions: ["inc", "square"], edges: [["inc", "square"]] });
    for (let i = 0; i < N; i++) assert.equal(await cloud.call("square", [i]), i * i);
    for (let i = 0; i < D; i++)
      assert.equal(await cloud.callDag("pipe", { inc: [i] }), (i + 1) ** 2);
  });

  after(async () => {
    await cloud.close();
    await store.close();
    await node.close();
    await sched.close();
    await redis.stop();
  });

  const state = async (): Promise<DashboardState> => {
    const res = await fetch(`${sched.httpUrl}/dashboard/api/state`, {
      headers: { authorization: "Bearer t" },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as DashboardState;
  };
  const fn = (s: DashboardState, name: string) => s.functions.find((f) => f.name === name);

  it("says what each count is, and they agree: calls = single calls + DAG stages", async () => {
    await until(
      async () => fn(await state(), "square")?.calls === N + D,
      10_000,
      "every invocation of square published",
    );
    const s = await state();
    const square = fn(s, "square");
    const inc = fn(s, "inc");
    assert.ok(square !== undefined && inc !== undefined);
    assert.equal(square.inDags, D, "square ran as a stage of each DAG run");
    assert.equal(square.calls - square.inDags, N, "the rest were its single calls");
    assert.equal(inc.calls, D);
    assert.equal(inc.inDags, D);
    assert.equal(s.dags.find((d) => d.name === "pipe")?.calls, D);
    for (const f of s.functions) assert.ok(f.inDags <= f.calls, `${f.name}: stages within calls`);
  });

  it("keeps a departed node's counts: the totals do not go backwards", async () => {
    const before = fn(await state(), "square")?.calls;
    assert.equal(before, N + D);
    await node.close();
    // The control: the store alone no longer has the node's record, so its counts are gone.
    await until(
      async () => (await readClusterStats(store)).functions["square"] === undefined,
      10_000,
      "the node's record gone from the store",
    );
    const after = await state();
    assert.equal(fn(after, "square")?.calls, N + D, "the dashboard keeps them");
    assert.equal(fn(after, "square")?.inDags, D);
    assert.equal(fn(after, "inc")?.calls, D);
  });
});

describe("stats: DepartedTotals", () => {
  const rec = (id: string, c: number, d = 0): StatsRecord => ({
    v: 1,
    id,
    at: 0,
    ms: 100,
    exec: { f: { c, e: 0, d, wc: 0, we: 0 } },
  });

  it("folds a process's counts in when its record goes, or when it restarts from zero", () => {
    const t = new DepartedTotals();
    t.update([rec("a", 10, 4), rec("b", 5)]);
    assert.equal(t.execFloor().size, 0, "nobody left yet");
    t.update([rec("a", 12, 4)]);
    assert.deepEqual(t.execFloor().get("f"), { c: 5, e: 0, d: 0 }, "b left with 5");
    t.update([rec("a", 3)]);
    assert.deepEqual(t.execFloor().get("f"), { c: 17, e: 0, d: 4 }, "a restarted after 12");
    t.update([rec("a", 3)]);
    assert.equal(t.execFloor().get("f")?.c, 17, "an unchanged record folds nothing");
  });

  it("keeps a bounded number of names", () => {
    const t = new DepartedTotals({ maxNames: 3 });
    for (let i = 0; i < 10; i++) {
      t.update([
        { v: 1, id: `p${i}`, at: 0, ms: 1, exec: { [`f${i}`]: { c: 1, e: 0, wc: 0, we: 0 } } },
      ]);
    }
    t.update([]);
    assert.equal(t.execFloor().size, 3);
    const total = [...t.execFloor().values()].reduce((s, x) => s + x.c, 0);
    assert.equal(total, 10, "no count lost, only pooled");
  });
});

/**
 * With several schedulers, each dashboard shows the cluster's figures: two scheduler processes
 * over one Redis, calls made through the first, and the second's dashboard state counts them (it
 * dispatched none of them itself, so its own memory of runs is empty — the control).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import type { DashboardState } from "../../src/dashboard/source.js";
import { freePort, RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

const N = 25;

describe("dashboard: cluster-wide figures from the store", () => {
  let redis: RedisServer;
  let a: StratusProcess;
  let b: StratusProcess;
  let cloud: Stratus;

  before(async () => {
    redis = await RedisServer.start();
    const common = { token: "t", store: redis.url, stats: { intervalMs: 100 } };
    a = await StratusProcess.start({ ...common, executors: 1 });
    b = await StratusProcess.start({ ...common, executors: 0, httpPort: await freePort() });
    cloud = await Stratus.connect(a.url, { token: "t" });
    await cloud.register("seen", (_ctx, x: number) => x + 1);
    for (let i = 0; i < N; i++) assert.equal(await cloud.call("seen", [i]), i + 1);
  });

  after(async () => {
    await cloud.close();
    await b.close();
    await a.close();
    await redis.stop();
  });

  const state = async (): Promise<DashboardState> => {
    const res = await fetch(`${b.httpUrl}/dashboard/api/state`, {
      headers: { authorization: "Bearer t" },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as DashboardState;
  };

  it("the other scheduler's dashboard counts the calls", async () => {
    await until(
      async () => (await state()).functions.find((f) => f.name === "seen")?.calls === N,
      10_000,
      "the calls published to the store",
    );
    const s = await state();
    const f = s.functions.find((x) => x.name === "seen");
    assert.ok(f !== undefined && f.p50Ms !== null && f.p50Ms > 0, "latency from the store");
    assert.equal(s.runs.length, 0, "this scheduler dispatched none of them itself");
    const node = s.nodes.find((n) => n.id === a.id);
    assert.ok(node !== undefined && node.cacheHitRate !== null, "node figures from the store");
  });
});

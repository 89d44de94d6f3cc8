/**
 * What a run's waterfall is drawn from: the per-function timings the nodes send back with the
 * result. An embedded process (real executors) runs a DAG with a fused chain and a fan-in
 * (a → b → d, a → c → d), and one whose middle stage throws; the dispatcher's record of each run
 * has every function that ran once, in an order the edges allow, with the failed one marked.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import type { FinishedRun } from "../../src/scheduler/index.js";

describe("dashboard: per-function timings of a run", () => {
  let proc: StratusProcess;
  let cloud: Stratus;

  before(async () => {
    proc = await StratusProcess.start({ token: "t", executors: 2 });
    cloud = await Stratus.connect(proc.url, { token: "t" });
    await cloud.register("ta", (_ctx, x: number) => x + 1);
    await cloud.register("tb", (_ctx, x: number) => x * 2);
    await cloud.register("tc", (_ctx, x: number) => x * 3);
    await cloud.register("td", (_ctx, b: number, c: number) => b + c);
    await cloud.register("tbad", (_ctx, x: number) => {
      if (x > 0) throw new Error("no");
      return x;
    });
    await cloud.registerDag("diamond", {
      functions: ["ta", "tb", "tc", "td"],
      edges: [
        ["ta", "tb"],
        ["ta", "tc"],
        ["tb", "td"],
        ["tc", "td"],
      ],
    });
    await cloud.registerDag("breaks", {
      functions: ["ta", "tbad", "tb"],
      edges: [
        ["ta", "tbad"],
        ["tbad", "tb"],
      ],
    });
  });

  after(async () => {
    await cloud.close();
    await proc.close();
  });

  const last = (name: string): FinishedRun => {
    const r = proc.dispatcher.recent.runs().find((x) => x.name === name);
    assert.ok(r !== undefined, `a run of ${name}`);
    return r;
  };

  it("has each function of a fan-in DAG once, upstream before downstream", async () => {
    assert.equal(await cloud.callDag("diamond", { ta: [1] }), 2 * 2 + 2 * 3);
    const run = last("diamond");
    const t = new Map((run.timings ?? []).map((x) => [x.fn, x]));
    assert.deepEqual([...t.keys()].sort(), ["ta", "tb", "tc", "td"], "each once (joins merge)");
    assert.equal(run.timings?.length, 4);
    for (const x of t.values()) {
      assert.equal(x.node, proc.id);
      assert.ok(x.s <= x.e && x.ok);
    }
    const at = (fn: string) => t.get(fn) as NonNullable<ReturnType<typeof t.get>>;
    assert.ok(at("ta").e <= at("tb").s && at("ta").e <= at("tc").s);
    assert.ok(at("tb").e <= at("td").s && at("tc").e <= at("td").s);
    assert.equal(run.consistency, "lww");
  });

  it("marks the stage that failed, with the error's stack", async () => {
    await assert.rejects(cloud.callDag("breaks", { ta: [1] }), { code: "FUNCTION_ERROR" });
    const run = last("breaks");
    const t = run.timings ?? [];
    assert.deepEqual(
      t.map((x) => [x.fn, x.ok]),
      [
        ["ta", true],
        ["tbad", false],
      ],
    );
    assert.match(run.error?.stack ?? "", /no/);
  });
});

/**
 * Scheduled invocations: three schedulers and a node (StratusProcess instances over one real
 * Redis, each with its own connections) all run a ticker; each tick must run exactly once.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { StratusProcess } from "../../src/cluster/index.js";
import type { CounterLattice, SetLattice } from "../../src/index.js";
import { Stratus, isStratusError } from "../../src/index.js";
import type { Ticker } from "../../src/cron/index.js";
import { RedisServer } from "../../testing/redis.js";
import { until } from "../../testing/processes.js";

const TOKEN = "schedules-token";
const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

describe("runtime: scheduled invocations fire once per tick across schedulers", () => {
  let own: RedisServer | undefined;
  const procs: StratusProcess[] = [];
  let schedulers: StratusProcess[] = [];
  let cloud: Stratus;

  const tickers = (): Ticker[] => schedulers.map((s) => s.ticker as Ticker);
  const sum = (k: keyof Ticker["counts"]): number => tickers().reduce((n, t) => n + t.counts[k], 0);
  const settled = (): Promise<unknown> => Promise.all(tickers().map((t) => t.settled()));
  const code = (c: string) => (e: unknown) => isStratusError(e) && e.code === c;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=sched-${randomUUID().slice(0, 8)}:`;
    const common = { token: TOKEN, store, heartbeatMs: 100 };
    schedulers = await Promise.all(
      [1, 2, 3].map(() => StratusProcess.start({ ...common, executors: 0 })),
    );
    const node = await StratusProcess.start({ ...common, scheduler: false, executors: 2 });
    procs.push(...schedulers, node);
    cloud = await Stratus.connect(schedulers[0]?.url ?? "", { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 1, 10_000, "the node");
    await cloud.register("tick", async (ctx, info: { tick: number }) => {
      await ctx.merge("runs", ctx.lattices.counter(1));
      await ctx.merge("ticks", ctx.lattices.set([info.tick]));
    });
  });

  after(async () => {
    await cloud?.close();
    for (const p of procs.reverse()) await p.close();
    await own?.stop();
  });

  it("runs 20 consecutive ticks exactly once each, though every scheduler races for them", async () => {
    const info = await cloud.schedule("every-second", "* * * * * *", { fn: "tick" });
    assert.equal(info.name, "every-second");
    assert.ok(info.next !== null && info.next > Date.now() - 1000);
    assert.deepEqual(
      (await cloud.schedules()).map((s) => s.name),
      ["every-second"],
    );
    await until(
      async () => (((await cloud.getLattice("ticks")) as SetLattice | undefined)?.size ?? 0) >= 20,
      60_000,
      "20 ticks",
    );
    assert.equal(await cloud.unschedule("every-second"), true);
    // Ticks claimed before the unschedule may still be running: wait for them, then read.
    await settled();
    const ticks = ((await cloud.getLattice("ticks")) as SetLattice)
      .values<number>()
      .sort((a, b) => a - b);
    const runs = ((await cloud.getLattice("runs")) as CounterLattice).value;
    // The set holds each tick once however often it ran; the counter counts runs. Equal means
    // no tick ran twice; consecutive seconds mean none in the window was skipped.
    assert.ok(ticks.length >= 20, `${ticks.length} ticks`);
    assert.equal(runs, ticks.length, `${runs} runs for ${ticks.length} distinct ticks`);
    const first = ticks[0] ?? 0;
    assert.deepEqual(
      ticks,
      ticks.map((_, i) => first + i * 1000),
    );
    assert.equal(sum("won"), runs);
    assert.equal(sum("ok"), runs);
    assert.equal(sum("skipped") + sum("errors") + sum("failed"), 0);
    // The race really happened: the other schedulers tried the same ticks and lost the claim.
    assert.ok(sum("lost") >= runs, `${sum("lost")} lost claims for ${runs} runs`);
  });

  it("stops firing once unscheduled", async () => {
    const won = sum("won");
    const lost = sum("lost");
    assert.deepEqual(await cloud.schedules(), []);
    // Nothing signals a tick that does not happen: wait out more than two periods.
    await sleep(2_500);
    await settled();
    assert.equal(sum("won"), won);
    assert.equal(sum("lost"), lost);
    assert.equal(await cloud.unschedule("every-second"), false);
  });

  it("refuses a bad cron expression, naming it", async () => {
    await assert.rejects(cloud.schedule("bad", "61 * * * * *", { fn: "tick" }), (e: unknown) => {
      assert.ok(code("INVALID_ARGUMENT")(e));
      assert.match((e as Error).message, /61 \* \* \* \* \*/);
      return true;
    });
    await assert.rejects(
      cloud.schedule("bad", "every day", { fn: "tick" }),
      code("INVALID_ARGUMENT"),
    );
    await assert.rejects(
      cloud.schedule("9bad", "* * * * * *", { fn: "tick" }),
      code("INVALID_ARGUMENT"),
    );
    assert.deepEqual(await cloud.schedules(), []);
  });

  it("refuses a schedule naming a missing function or DAG", async () => {
    await assert.rejects(
      cloud.schedule("ghost", "* * * * * *", { fn: "missing" }),
      code("NO_SUCH_FUNCTION"),
    );
    await assert.rejects(
      cloud.schedule("ghost", "* * * * * *", { dag: "missing" }),
      code("NO_SUCH_DAG"),
    );
    assert.deepEqual(await cloud.schedules(), []);
  });

  it("runs a scheduled DAG, and counts a failing run without harming the schedulers", async () => {
    await cloud.register("stamp", (_ctx, label: string, info: { tick: number }) => [
      label,
      info.tick,
    ]);
    await cloud.register("keep", async (ctx, pair: [string, number]) => {
      await ctx.merge("dag-ticks", ctx.lattices.set([pair[1]]));
    });
    await cloud.registerDag("pipe", { functions: ["stamp", "keep"], edges: [["stamp", "keep"]] });
    await cloud.register("boom", () => {
      throw new Error("scheduled failure");
    });
    await cloud.schedule("dag", "* * * * * *", { dag: "pipe", inputs: { stamp: ["x"] } });
    await cloud.schedule("boom", "* * * * * *", { fn: "boom" });
    await until(
      async () =>
        sum("failed") >= 2 &&
        (((await cloud.getLattice("dag-ticks")) as SetLattice | undefined)?.size ?? 0) >= 2,
      20_000,
      "2 DAG runs and 2 failed runs",
    );
    await cloud.unschedule("dag");
    await cloud.unschedule("boom");
    await settled();
    // The schedulers still serve calls after their scheduled runs failed.
    for (const s of schedulers) {
      const c = await Stratus.connect(s.url, { token: TOKEN });
      try {
        assert.equal((await c.status()).nodes.length, 1);
      } finally {
        await c.close();
      }
    }
  });

  it("is driven by the CLI: stratus schedule, schedules, unschedule", async () => {
    const stratus = async (
      ...args: string[]
    ): Promise<{ stdout: string; stderr: string; code: number }> => {
      try {
        const r = await run(
          process.execPath,
          ["--import", "tsx", "src/cli/main.ts", ...args, "--url", schedulers[1]?.url ?? ""],
          { cwd: root, env: { ...process.env, STRATUS_TOKEN: TOKEN } },
        );
        return { ...r, code: 0 };
      } catch (e) {
        const err = e as { stdout: string; stderr: string; code: number };
        return { stdout: err.stdout, stderr: err.stderr, code: err.code };
      }
    };
    // 03:00 UTC daily: listed, never due while this test runs.
    const made = await stratus(
      "schedule",
      "nightly",
      "0 0 3 * * *",
      "--fn",
      "tick",
      "--args",
      "[]",
    );
    assert.equal(made.code, 0, made.stderr);
    assert.equal((JSON.parse(made.stdout) as { fn: string }).fn, "tick");
    const human = await stratus("schedules");
    assert.match(
      human.stdout,
      /^nightly {2}0 0 3 \* \* \* {2}fn tick {2}next \d{4}-\d\d-\d\dT03:00:00\.000Z \(in \d+ (h|min|s)\)$/m,
    );
    const listed = JSON.parse((await stratus("schedules", "--json")).stdout) as {
      name: string;
      cron: string;
    }[];
    assert.deepEqual(
      listed.map((l) => [l.name, l.cron]),
      [["nightly", "0 0 3 * * *"]],
    );
    const bad = await stratus("schedule", "worse", "99 * * * *", "--fn", "tick");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /INVALID_ARGUMENT: cron expression "99 \* \* \* \*"/);
    assert.deepEqual(JSON.parse((await stratus("unschedule", "nightly")).stdout), {
      removed: true,
    });
    assert.deepEqual(await cloud.schedules(), []);
  });
});

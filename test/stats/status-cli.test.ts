/**
 * `stratus status --json` over a real multi-process cluster: a scheduler and two nodes, each its
 * own OS process (the CLI), over the runner's Redis. A known workload (N calls, M of them failing)
 * through the SDK is what the CLI then reports, merged from the three processes' records; a
 * node's `/metrics` carries the per-function series.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Stratus, isStratusError } from "../../src/index.js";
import type { ClusterStats } from "../../src/stats/index.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer, freePort } from "../../testing/redis.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const TOKEN = "status-token";
const N = 60;
const M = 7;

describe("stats: stratus status --json over a scheduler and two node processes", () => {
  let own: RedisServer | undefined;
  const children: Child[] = [];
  let url = "";
  let metricsPort = 0;
  let cloud: Stratus;

  const status = async (): Promise<{ nodes: unknown[]; stats: ClusterStats }> => {
    const r = await run(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "status", "--json", "--url", url, "--token", TOKEN],
      { cwd: root },
    );
    return JSON.parse(r.stdout) as { nodes: unknown[]; stats: ClusterStats };
  };

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=st-${randomUUID().slice(0, 8)}:`;
    const sched = await startStratus(
      ["scheduler", "--store", store, "--token", TOKEN],
      /scheduler \S+ at (\S+)\n/,
    );
    children.push(sched);
    url = sched.ready;
    metricsPort = await freePort();
    const nodeArgs = ["node", "--join", url, "--token", TOKEN, "--executors", "2"];
    children.push(
      ...(await Promise.all([
        startStratus(
          [...nodeArgs, "--id", "sa", "--metrics-port", String(metricsPort)],
          /node (\S+) joined/,
        ),
        startStratus([...nodeArgs, "--id", "sb"], /node (\S+) joined/),
      ])),
    );
    cloud = await Stratus.connect(url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
    await cloud.register("half", async (_ctx, x: number) => {
      if (x % 1 !== 0) throw new Error("not whole");
      return x / 2;
    });
    let failed = 0;
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        cloud.call("half", [i < M ? i + 0.5 : i]).catch((e: unknown) => {
          assert.ok(isStratusError(e) && e.code === "FUNCTION_ERROR");
          failed++;
        }),
      ),
    );
    assert.equal(failed, M);
  });

  after(async () => {
    await cloud?.close();
    await Promise.all(children.map((c) => c.stop()));
    await own?.stop();
  });

  it("shows the calls, errors and nodes of the workload", async () => {
    await until(
      async () => (await status()).stats.functions.half?.calls === N,
      15_000,
      "the CLI to report N calls",
    );
    const r = await status();
    const half = r.stats.functions.half!;
    assert.equal(half.calls, N);
    assert.equal(half.errors, M);
    assert.ok(half.p99Ms >= half.p50Ms && half.p50Ms > 0);
    assert.deepEqual(Object.keys(r.stats.nodes).sort(), ["sa", "sb"]);
    for (const n of Object.values(r.stats.nodes)) {
      assert.equal(n.executors, 2);
      assert.ok(n.utilisation >= 0 && n.utilisation <= 1);
    }
    assert.equal(r.stats.runs.half?.calls, N);
    assert.equal(r.stats.runs.half?.errors, M);
  });

  it("a node's /metrics has per-function series", async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const text = await res.text();
    assert.match(text, /stratus_function_calls_total\{fn="half",process="sa"\} \d+/);
    assert.match(
      text,
      /stratus_function_latency_seconds\{fn="half",quantile="0.99",process="sa"\}/,
    );
  });
});

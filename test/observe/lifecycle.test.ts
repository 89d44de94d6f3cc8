/**
 * Lifecycle events as structured pino records (captured through a stream): nodes joining and
 * lost, runs retried, relaunched and fenced, autoscaler decisions with their inputs, storage
 * disconnects and reconnects, and overload. Each event is made to happen for real: a node
 * process SIGKILLed mid-run, a Redis server killed and restarted, a dispatcher over its bound.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { Dispatcher, Peers, Placer, singleFunctionDag } from "../../src/scheduler/index.js";
import type { Member } from "../../src/scheduler/index.js";
import { LogRecords } from "../../testing/log-lines.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const TOKEN = "lifecycle-token";
const microtasks = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("lifecycle events: the dispatcher", () => {
  it("writes run.retried with the run, attempt, reason and node when a result asks for a relaunch", async () => {
    const out = new LogRecords();
    const sent: { method: string; payload: unknown }[] = [];
    const addr = "stratus://127.0.0.1:1";
    const peers = new Peers({ id: "s", role: "scheduler", token: "t", handlers: {} });
    peers.setLocal(addr, (method, payload) => void sent.push({ method, payload }));
    const node: Member = {
      id: "n1",
      addr,
      executors: 1,
      busy: 0,
      queued: 0,
      cached: [],
      startedAt: 0,
      seenAt: 0,
    };
    const log = pino(out);
    const d = new Dispatcher({ addr, peers, placer: new Placer(() => [node]), log });
    const running = d.run({ def: singleFunctionDag("f"), inputs: { f: [encodeValue(1)] } });
    await microtasks();
    type T = { meta: { run: string; attempt: number; reply: { req: number } } };
    const first = sent.find((s) => s.method === "trigger")?.payload as T;
    assert.equal(out.events("run.retried").length, 0, "control: nothing retried yet");
    const e = {
      code: "SNAPSHOT_CONFLICT" as const,
      message: "gone",
      retryable: true,
      details: { node: "n1" },
    };
    d.onResult({ run: first.meta.run, attempt: 0, req: first.meta.reply.req, ok: false, e });
    await microtasks();
    const [rec] = out.events("run.retried");
    assert.ok(rec !== undefined);
    assert.deepEqual(
      { run: rec.run, dag: rec.dag, attempt: rec.attempt, reason: rec.reason, node: rec.node },
      { run: first.meta.run, dag: "f", attempt: 1, reason: "SNAPSHOT_CONFLICT", node: "n1" },
    );
    const again = sent.filter((s) => s.method === "trigger").at(-1)?.payload as T;
    assert.equal(again.meta.attempt, 1);
    d.onResult({
      run: again.meta.run,
      attempt: 1,
      req: again.meta.reply.req,
      ok: true,
      v: encodeValue(2),
    });
    await running;
    d.close();
  });
});

describe("lifecycle events: a cluster", () => {
  let redis: RedisServer;
  let a: StratusProcess;
  let b: Child | undefined;
  let cloud: Stratus;
  const out = new LogRecords();

  before(async () => {
    redis = await RedisServer.start();
    const store = `${redis.url}?prefix=lc-${randomUUID().slice(0, 8)}:`;
    a = await StratusProcess.start({
      token: TOKEN,
      store,
      id: "lc-a",
      executors: 1,
      heartbeatMs: 100,
      expiryMs: 1500,
      maxInFlightBytes: 4096,
      pin: { slow: "lc-b", hold: "lc-a" },
      monitor: { minExecutors: 2, intervalMs: 50 },
      log: pino({ level: "debug" }, out),
    });
    cloud = await Stratus.connect(a.url, { token: TOKEN });
    b = await startStratus(
      ["node", "--join", a.url, "--token", TOKEN, "--executors", "1", "--id", "lc-b"],
      /node (\S+) joined/,
    );
    await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
    // Runs forever on lc-b (until that node dies), at once anywhere else.
    await cloud.register("slow", async (ctx, x: number) => {
      if (ctx.id().startsWith("lc-b.")) await new Promise((r) => setTimeout(r, 600_000));
      return x;
    });
    await cloud.register("hold", async (ctx, s: string) => {
      await ctx.recv({ timeoutMs: 1500 });
      return s.length;
    });
  });

  after(async () => {
    await b?.stop();
    await cloud?.close();
    await a?.close();
    await redis?.stop();
  });

  it("writes node.joined with the node's id, address and executors", async () => {
    await until(
      async () => out.events("node.joined", { node: "lc-b" }).length > 0,
      10_000,
      "joined",
    );
    const [rec] = out.events("node.joined", { node: "lc-b" });
    assert.equal(rec?.executors, 1);
    assert.match(String(rec?.addr), /^stratus:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(rec?.level, 30);
  });

  it("writes autoscaler.decision with what it decided on", async () => {
    await until(
      async () => out.events("autoscaler.decision", { target: "lc-a" }).length > 0,
      10_000,
      "a decision",
    );
    const [rec] = out.events("autoscaler.decision", { target: "lc-a" });
    assert.deepEqual(
      { kind: rec?.kind, from: rec?.from, to: rec?.to },
      { kind: "executors", from: 1, to: 2 },
    );
    const inputs = rec?.inputs as Record<string, unknown>;
    for (const k of ["executors", "inflight", "utilisation", "queueMs"]) {
      assert.equal(typeof inputs[k], "number", `inputs.${k}`);
    }
  });

  it("writes overload when a call is refused with OVERLOADED", async () => {
    const big = "x".repeat(3000);
    const first = cloud.call("hold", [big]);
    await assert.rejects(cloud.call("hold", [big]), { code: "OVERLOADED" });
    const [rec] = out.events("overload", { where: "dispatcher.inFlightBytes" });
    assert.ok(rec !== undefined);
    assert.match(String(rec.detail), /pass the limit of 4096/);
    assert.equal(rec.level, 40);
    assert.equal(await first, 3000);
  });

  it("writes node.lost, run.relaunched and run.fenced when a node dies under a read-atomic run", async () => {
    const child = b as Child;
    assert.equal(out.events("run.relaunched").length, 0, "control: nothing relaunched yet");
    const running = cloud.call<number>("slow", [7], { consistency: "read-atomic" });
    await until(
      async () => (await cloud.status()).nodes.some((n) => n.id === "lc-b" && n.busy > 0),
      10_000,
      "slow running on lc-b",
    );
    child.proc.kill("SIGKILL");
    await once(child.proc, "exit");
    assert.equal(await running, 7);
    const [lost] = out.events("node.lost", { node: "lc-b" });
    assert.ok(lost !== undefined);
    assert.equal(lost.level, 40);
    const [re] = out.events("run.relaunched", { node: "lc-b" });
    assert.ok(re !== undefined);
    assert.deepEqual(
      { dag: re.dag, attempt: re.attempt, reason: re.reason },
      { dag: "slow", attempt: 1, reason: "node lost" },
    );
    const [fenced] = out.events("run.fenced", { run: re.run });
    assert.deepEqual(
      { attempt: fenced?.attempt, outcome: fenced?.outcome },
      { attempt: 1, outcome: "relaunched" },
    );
  });

  it("writes storage.disconnected and storage.reconnected when Redis restarts", async () => {
    assert.equal(out.events("storage.disconnected").length, 0, "control: no disconnect yet");
    await redis.kill();
    await until(async () => out.events("storage.disconnected").length > 0, 10_000, "disconnected");
    await redis.start();
    await until(async () => out.events("storage.reconnected").length > 0, 20_000, "reconnected");
    const [down] = out.events("storage.disconnected");
    const [up] = out.events("storage.reconnected");
    assert.deepEqual(
      { backend: down?.backend, level: down?.level },
      { backend: "redis", level: 40 },
    );
    assert.deepEqual({ backend: up?.backend, level: up?.level }, { backend: "redis", level: 30 });
    await cloud.put("after-restart", 1);
    assert.equal(await cloud.get("after-restart"), 1);
  });
});

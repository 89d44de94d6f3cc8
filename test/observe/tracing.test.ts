/**
 * OpenTelemetry traces of a cross-node DAG: a scheduler+node process and a second node process
 * (a real child `stratus node`), both exporting over OTLP/HTTP to a receiver on loopback. The
 * caller's `traceparent` becomes the run span's parent; each invocation, on either node, is a
 * child of the run span; storage operations and nested calls are children of their invocation.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { Tracing } from "../../src/observe/index.js";
import { isTraceparent } from "../../src/protocol/index.js";
import { Dispatcher, Peers, Placer, singleFunctionDag } from "../../src/scheduler/index.js";
import type { Member } from "../../src/scheduler/index.js";
import { OtlpReceiver } from "../../testing/otlp-receiver.js";
import type { ReceivedSpan } from "../../testing/otlp-receiver.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const TOKEN = "tracing-token";

describe("tracing: a cross-node DAG is one trace", () => {
  let redis: RedisServer;
  let receiver: OtlpReceiver;
  let a: StratusProcess;
  let b: Child;
  let cloud: Stratus;

  before(async () => {
    redis = await RedisServer.start();
    receiver = await OtlpReceiver.start();
    const store = `${redis.url}?prefix=tr-${randomUUID().slice(0, 8)}:`;
    a = await StratusProcess.start({
      token: TOKEN,
      store,
      id: "tr-a",
      executors: 1,
      heartbeatMs: 100,
      fuse: false,
      pin: { first: "tr-a", leaf: "tr-a", second: "tr-b" },
      otlpEndpoint: receiver.url,
      httpPort: 0,
    });
    b = await startStratus(
      [
        ...["node", "--join", a.url, "--token", TOKEN, "--executors", "1", "--id", "tr-b"],
        ...["--otlp-endpoint", receiver.url],
      ],
      /node (\S+) joined/,
    );
    cloud = await Stratus.connect(a.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
    await cloud.register("leaf", async (_ctx, x: number) => x * 10);
    await cloud.register("first", async (ctx, x: number) => ctx.call<number>("leaf", [x]));
    await cloud.register("second", async (ctx, x: number) => {
      await ctx.put("traced-key", x);
      return x + 1;
    });
    await cloud.registerDag("pair", {
      functions: ["first", "second"],
      edges: [["first", "second"]],
    });
  });

  after(async () => {
    await cloud?.close();
    await b?.stop();
    await a?.close();
    await receiver?.close();
    await redis?.stop();
  });

  const inTrace = (traceId: string): ReceivedSpan[] =>
    receiver.spans.filter((s) => s.traceId === traceId);
  const one = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `${name} in ${spans.map((s) => s.name).join(", ")}`);
    return found[0]!;
  };

  it("exports the run, both nodes' invocations, a nested call and a storage write with correct parents", async () => {
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const traceparent = `00-${traceId}-${callerSpan}-01`;
    assert.equal(await cloud.callDag("pair", { first: [2] }, { traceparent }), 21);
    const names = [
      "run pair",
      "invoke first",
      "call leaf",
      "invoke leaf",
      "invoke second",
      "kv.put",
    ];
    await until(
      async () => names.every((n) => inTrace(traceId).some((s) => s.name === n)),
      15_000,
      "every span exported",
    );
    const spans = inTrace(traceId);
    const run = one(spans, "run pair");
    assert.equal(run.parentSpanId, callerSpan);
    assert.equal(run.instance, "tr-a");
    assert.equal(run.attributes["stratus.dag"], "pair");
    const first = one(spans, "invoke first");
    const second = one(spans, "invoke second");
    for (const [span, node] of [
      [first, "tr-a"],
      [second, "tr-b"],
    ] as const) {
      assert.equal(span.parentSpanId, run.spanId, span.name);
      assert.equal(span.attributes["stratus.node"], node);
      assert.equal(span.instance, node, "exported by the node that ran it");
      assert.equal(typeof span.attributes["stratus.queue_ms"], "number");
      assert.equal(span.attributes["stratus.run"], run.attributes["stratus.run"]);
    }
    const call = one(spans, "call leaf");
    assert.equal(call.parentSpanId, first.spanId);
    assert.equal(one(spans, "invoke leaf").parentSpanId, call.spanId);
    const put = one(spans, "kv.put");
    assert.equal(put.parentSpanId, second.spanId);
    assert.equal(put.attributes["stratus.key"], "traced-key");
    assert.equal(put.instance, "tr-b");
  });

  it("starts a trace of its own without a traceparent, and takes one from the HTTP ingress", async () => {
    const before = new Set(receiver.spans.map((s) => s.spanId));
    assert.equal(await cloud.call("leaf", [3]), 30);
    await until(
      async () => receiver.spans.some((s) => !before.has(s.spanId) && s.name === "run leaf"),
      15_000,
      "a root run span",
    );
    const root = receiver.spans.find((s) => !before.has(s.spanId) && s.name === "run leaf");
    assert.equal(root?.parentSpanId, undefined);

    const traceId = randomBytes(16).toString("hex");
    const parent = randomBytes(8).toString("hex");
    const res = await fetch(`${a.httpUrl}/v1/call/leaf`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        traceparent: `00-${traceId}-${parent}-01`,
      },
      body: JSON.stringify({ args: [4] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await until(
      async () => inTrace(traceId).some((s) => s.name === "run leaf"),
      15_000,
      "http run",
    );
    assert.equal(one(inTrace(traceId), "run leaf").parentSpanId, parent);
  });

  it("keeps a caller's unsampled trace unsampled: none of its spans is sent", async () => {
    const unsampled = randomBytes(16).toString("hex");
    const sampled = randomBytes(16).toString("hex");
    const parent = randomBytes(8).toString("hex");
    const off = `00-${unsampled}-${parent}-00`;
    assert.equal(await cloud.callDag("pair", { first: [2] }, { traceparent: off }), 21);
    // Control, run after it: its spans, from both processes, arrive, so any of the first run's
    // (ended earlier, in the same processes) would have arrived too.
    const on = `00-${sampled}-${parent}-01`;
    assert.equal(await cloud.callDag("pair", { first: [2] }, { traceparent: on }), 21);
    await until(
      async () =>
        ["tr-a", "tr-b"].every((i) => inTrace(sampled).some((s) => s.instance === i)) &&
        inTrace(sampled).some((s) => s.name === "kv.put"),
      15_000,
      "the sampled run's spans",
    );
    assert.deepEqual(inTrace(unsampled), []);
  });

  it("refuses a malformed traceparent with INVALID_ARGUMENT", async () => {
    await assert.rejects(cloud.call("leaf", [1], { traceparent: "00-xyz-01" }), {
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("tracing off: no span, no traceparent on the wire", () => {
  /** The first trigger a dispatcher sends for one call, with or without tracing. */
  async function firstTrigger(tracing?: Tracing): Promise<{ meta: Record<string, unknown> }> {
    const sent: { method: string; payload: unknown }[] = [];
    const addr = "stratus://127.0.0.1:1";
    const peers = new Peers({ id: "s", role: "scheduler", token: "t", handlers: {} });
    peers.setLocal(addr, (method, payload) => void sent.push({ method, payload }));
    const node: Member = {
      ...{ id: "n1", addr, executors: 1, busy: 0, queued: 0 },
      ...{ cached: [], startedAt: 0, seenAt: 0 },
    };
    const d = new Dispatcher({
      addr,
      peers,
      placer: new Placer(() => [node]),
      ...(tracing && { tracing }),
    });
    const run = d.run({
      def: singleFunctionDag("f"),
      inputs: { f: [encodeValue(1)] },
      options: { timeoutMs: 50 },
    });
    await new Promise((r) => setImmediate(r));
    await run.catch(() => undefined);
    d.close();
    return sent.find((x) => x.method === "trigger")?.payload as { meta: Record<string, unknown> };
  }

  it("sends no tp without tracing, and a valid one with it (control)", async () => {
    assert.equal(Object.hasOwn((await firstTrigger()).meta, "tp"), false);
    const receiver = await OtlpReceiver.start();
    const tracing = await Tracing.start({ endpoint: receiver.url, instance: "s" });
    try {
      const tp = (await firstTrigger(tracing)).meta["tp"];
      assert.ok(isTraceparent(tp), String(tp));
      await tracing.flush();
      assert.equal(receiver.spans.filter((x) => x.name === "run f").length, 1);
    } finally {
      await tracing.close();
      await receiver.close();
    }
  });
});

/**
 * Exactly-once wherever a read-atomic run starts (issue 17): HTTP with an `Idempotency-Key`, a
 * schedule's tick relaunched after a (false) node loss, a dataflow run, and a future of a request
 * that committed already; and the limit on a read-atomic run's deadline. Two node processes in
 * this process, over the memory store; the same code paths run over every backend.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Flow, Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import { until } from "../../testing/processes.js";

const TOKEN = "exactly-once";

describe("exactly-once wherever a read-atomic run starts", () => {
  let store: MemoryStore;
  let sched: StratusProcess;
  let node2: StratusProcess;
  let cloud: Stratus;
  let gate: Server;
  let gateUrl = "";
  /** The first call to the gate is held until `release`; later ones pass. */
  let held: { url: URL; release: () => void } | undefined;
  let onHeld: ((url: URL) => void) | undefined;

  before(async () => {
    gate = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://gate");
      if (held === undefined && onHeld !== undefined) {
        held = { url, release: () => res.end("go") };
        onHeld(url);
        return;
      }
      res.end("go");
    });
    await new Promise<void>((r) => gate.listen(0, "127.0.0.1", r));
    gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
    store = await MemoryStore.open();
    sched = await StratusProcess.start({
      token: TOKEN,
      store,
      executors: 2,
      id: "a",
      httpPort: 0,
      txn: { maxTxnMs: 20_000 },
    });
    node2 = await StratusProcess.start({
      token: TOKEN,
      store,
      executors: 2,
      id: "b",
      scheduler: false,
      txn: { maxTxnMs: 20_000 },
    });
    cloud = await Stratus.connect(sched.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 2, 15_000, "2 nodes");
    await cloud.register("eo_inc", async (ctx, key: string) => {
      await ctx.merge(key, ctx.lattices.counter(1));
      return "done";
    });
  });

  after(async () => {
    await cloud?.close();
    await node2?.close();
    await sched?.close();
    await store?.close();
    held?.release();
    gate.closeAllConnections();
    await new Promise((r) => gate.close(r));
  });

  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${sched.httpUrl!}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("HTTP: a request sent twice with one Idempotency-Key runs once", async () => {
    // Control: without a key, each request runs.
    await post("/v1/call/eo_inc", { args: ["eo/http/plain"] });
    await post("/v1/call/eo_inc", { args: ["eo/http/plain"] });
    assert.equal(await cloud.get("eo/http/plain"), 2);
    const h = { "idempotency-key": "order-7" };
    const first = await post("/v1/call/eo_inc", { args: ["eo/http/key"] }, h);
    const again = await post("/v1/call/eo_inc", { args: ["eo/http/key"] }, h);
    assert.deepEqual([first.status, again.status], [200, 200]);
    assert.deepEqual(again.body, first.body);
    assert.equal(await cloud.get("eo/http/key"), 1);
    // A key asks for read-atomic: another level is refused, not silently run twice.
    const bad = await post(
      "/v1/call/eo_inc",
      { args: ["eo/http/key"] },
      {
        ...h,
        "stratus-consistency": "lww",
      },
    );
    assert.equal(bad.status, 400);
    assert.equal(await cloud.get("eo/http/key"), 1);
  });

  it("a schedule's tick of a read-atomic DAG commits once when relaunched after a false node loss", async () => {
    await cloud.register("eo_tick", async (ctx, g: string, info: { tick: number }) => {
      await ctx.merge(`eo/tick/${info.tick}`, ctx.lattices.counter(1));
      await fetch(`${g}/hold?tick=${info.tick}&inv=${ctx.id()}`);
      return info.tick;
    });
    await cloud.registerDag("eo_tickdag", {
      functions: ["eo_tick"],
      edges: [],
      consistency: "read-atomic",
    });
    const first = new Promise<URL>((r) => (onHeld = r));
    await cloud.schedule("eo_every", "* * * * * *", {
      dag: "eo_tickdag",
      inputs: { eo_tick: [gateUrl] },
    });
    const url = await first;
    await cloud.unschedule("eo_every");
    const tick = Number(url.searchParams.get("tick"));
    const node = String(url.searchParams.get("inv")).split(".")[0]!;
    const ticker = sched.ticker!;
    const done = ticker.counts.ok;
    // The node holding the tick's run is declared lost while it still runs: the run is
    // launched again elsewhere, and then the first attempt goes on too.
    const other = node === "a" ? "b" : "a";
    sched.dispatcher.onNodeLost(node);
    await until(
      async () => (await cloud.get(`eo/tick/${tick}`)) !== undefined,
      10_000,
      "the relaunched attempt committed",
    );
    held!.release();
    await until(async () => ticker.counts.ok > done, 10_000, "the tick's run finished");
    assert.ok(other !== node);
    assert.equal(await cloud.get(`eo/tick/${tick}`), 1, "one commit for one tick");
  });

  it("a dataflow run with exactlyOnce and a request id runs once", async () => {
    const flow = Flow.create("eo_flow", { k: "string" });
    flow.output(
      flow.input.map(
        "eo_count",
        async (ctx, r) => {
          await ctx.merge(r.k ?? "", ctx.lattices.counter(1));
          return { k: r.k };
        },
        { schema: { k: "string" } },
      ),
    );
    const app = await flow.deploy(cloud);
    await app.run([{ k: "eo/flow/plain" }]);
    await app.run([{ k: "eo/flow/plain" }]);
    assert.equal(await cloud.get("eo/flow/plain"), 2, "control: two runs, two increments");
    const opts = { exactlyOnce: true, requestId: "flow-run-1" };
    const a = await app.run([{ k: "eo/flow/once" }], opts);
    const b = await app.run([{ k: "eo/flow/once" }], opts);
    assert.deepEqual(b, a);
    assert.equal(await cloud.get("eo/flow/once"), 1);
  });

  it("a future of a request that committed already is stored: every reader of its id finds it", async () => {
    await cloud.registerDag("eo_incdag", { functions: ["eo_inc"], edges: [] });
    const opts = { consistency: "read-atomic" as const, requestId: "fut-1" };
    assert.equal(await cloud.callDag("eo_incdag", { eo_inc: ["eo/fut"] }, opts), "done");
    const fut = await cloud.callDag("eo_incdag", { eo_inc: ["eo/fut"] }, { ...opts, future: true });
    const other = await Stratus.connect(sched.url, { token: TOKEN });
    try {
      assert.equal(await other.future(fut.id, { timeoutMs: 5000 }).get(), "done");
    } finally {
      await other.close();
    }
    assert.equal(await cloud.get("eo/fut"), 1);
  });

  it("a read-atomic run may not ask for a deadline past maxTxnMs: a clear error, not retried", async () => {
    const err = await cloud
      .call("eo_inc", ["eo/long"], { consistency: "read-atomic", timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    assert.equal((err as { code?: string }).code, "INVALID_ARGUMENT");
    assert.equal((err as { retryable?: boolean }).retryable, false);
    assert.match((err as Error).message, /at most 20000 ms.*--max-txn-ms/);
    assert.equal(await cloud.get("eo/long"), undefined);
    // Within the limit it runs.
    await cloud.call("eo_inc", ["eo/long"], { consistency: "read-atomic", timeoutMs: 20_000 });
    assert.equal(await cloud.get("eo/long"), 1);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/client/index.js";
import { lattices } from "../../src/lattice/index.js";

describe("transactions from the client and read-atomic runs", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 2 });
    await cloud.register("debit", async (ctx, acct: string, n: number) => {
      const v = (await ctx.get<number>(acct)) ?? 100;
      await ctx.put(acct, v - n);
      await ctx.merge("ops", ctx.lattices.counter(1));
      return n;
    });
    await cloud.register("credit", async (ctx, n: number) => {
      const v = (await ctx.get<number>("acct/b")) ?? 0;
      await ctx.put("acct/b", v + n);
      return { moved: n, a: await ctx.get("acct/a"), b: await ctx.get("acct/b") };
    });
    await cloud.registerDag("transfer", {
      functions: ["debit", "credit"],
      edges: [["debit", "credit"]],
    });
  });
  after(() => cloud.close());

  it("cloud.txn: buffered writes, read-your-writes, commit makes both visible", async () => {
    const tx = await cloud.txn.begin();
    tx.put("c/x", 1);
    tx.put("c/y", 2);
    tx.merge("c/n", lattices.counter(3));
    assert.equal(await tx.get("c/x"), 1);
    assert.equal(await tx.get("c/n"), 3);
    const other = await cloud.txn.begin();
    assert.equal(await other.get("c/x"), undefined, "not visible before commit");
    await tx.commit();
    const r = await cloud.txn.begin();
    assert.deepEqual([await r.get("c/x"), await r.get("c/y"), await r.get("c/n")], [1, 2, 3]);
    const ab = await cloud.txn.begin();
    ab.put("c/x", 99);
    await ab.abort();
    assert.equal(await (await cloud.txn.begin()).get("c/x"), 1);
    assert.throws(() => ab.put("c/x", 5), { code: "CLOSED" });
  });

  it("a read-atomic DAG run commits its writes at the sink, and reads its own writes across nodes", async () => {
    const out = await cloud.callDag(
      "transfer",
      { debit: ["acct/a", 10] },
      { consistency: "read-atomic" },
    );
    assert.deepEqual(out, { moved: 10, a: 90, b: 10 });
    const r = await cloud.txn.begin();
    assert.deepEqual(
      [await r.get("acct/a"), await r.get("acct/b"), await r.get("ops")],
      [90, 10, 1],
    );
  });

  it("a retry of the same request returns the recorded result and applies nothing twice", async () => {
    const requestId = "transfer-42";
    const first = await cloud.callDag(
      "transfer",
      { debit: ["acct/a", 5] },
      { consistency: "read-atomic", requestId },
    );
    const again = await cloud.callDag(
      "transfer",
      { debit: ["acct/a", 5] },
      { consistency: "read-atomic", requestId },
    );
    assert.deepEqual(again, first);
    const r = await cloud.txn.begin();
    assert.deepEqual([await r.get("acct/a"), await r.get("ops")], [85, 2]);
    // Control: a new request id runs again.
    await cloud.callDag(
      "transfer",
      { debit: ["acct/a", 5] },
      { consistency: "read-atomic", requestId: "transfer-43" },
    );
    const r2 = await cloud.txn.begin();
    assert.deepEqual([await r2.get("acct/a"), await r2.get("ops")], [80, 3]);
  });

  it("ctx.runId() is the run's transaction id, the same for every retry of one request", async () => {
    await cloud.register("whoami", async (ctx) => ctx.runId());
    const opts = { consistency: "read-atomic", requestId: "who-1" } as const;
    const a = await cloud.call<string>("whoami", [], opts);
    const b = await cloud.call<string>("whoami", [], opts);
    const c = await cloud.call<string>("whoami", [], { ...opts, requestId: "who-2" });
    assert.equal(typeof a, "string");
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it("a fan-in takes each write once: a diamond counts its upstream's increment once", async () => {
    await cloud.register("d_a", async (ctx) => {
      await ctx.merge("d/n", ctx.lattices.counter(1));
      await ctx.put("d/a", "a");
      return 1;
    });
    await cloud.register("d_b", async (ctx, x: number) => {
      await ctx.merge("d/n", ctx.lattices.counter(10));
      return x;
    });
    await cloud.register("d_c", async (ctx, x: number) => {
      await ctx.merge("d/n", ctx.lattices.counter(100));
      await ctx.put("d/a", "c");
      return x;
    });
    await cloud.register("d_d", async (ctx) => [await ctx.get("d/n"), await ctx.get("d/a")]);
    await cloud.registerDag("diamond", {
      functions: ["d_a", "d_b", "d_c", "d_d"],
      edges: [
        ["d_a", "d_b"],
        ["d_a", "d_c"],
        ["d_b", "d_d"],
        ["d_c", "d_d"],
      ],
    });
    const out = await cloud.callDag("diamond", { d_a: [] }, { consistency: "read-atomic" });
    assert.deepEqual(out, [111, "c"]);
    const r = await cloud.txn.begin();
    assert.deepEqual([await r.get("d/n"), await r.get("d/a")], [111, "c"]);
  });

  it("a failed read-atomic run leaves nothing visible", async () => {
    await cloud.register("half", async (ctx) => {
      await ctx.put("h/1", "written");
      throw new Error("crash between two writes");
    });
    await assert.rejects(cloud.call("half", [], { consistency: "read-atomic", retries: 0 }), {
      code: "FUNCTION_ERROR",
    });
    assert.equal(await (await cloud.txn.begin()).get("h/1"), undefined);
    // Control: the same function at lww leaves its first write behind.
    await assert.rejects(cloud.call("half", []), { code: "FUNCTION_ERROR" });
    assert.equal(await cloud.get("h/1"), "written");
  });
});

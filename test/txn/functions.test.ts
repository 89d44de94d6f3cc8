/**
 * Transactions inside functions (`ctx.txn`) and nested calls inside a read-atomic run's
 * transaction, on the memory store and on Redis.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { TxnAbortedError, TxnFencedError, recordKey } from "../../src/txn/index.js";
import { decodeValue } from "../../src/lattice/index.js";
import type { Store } from "../../src/storage/index.js";
import { fromWireError, toWireError } from "../../src/errors/index.js";
import { BackendFixture } from "../../testing/backends.js";
import type { BackendName } from "../../testing/backends.js";

const RA = { consistency: "read-atomic", retries: 0 } as const;

for (const backend of ["memory", "redis"] as BackendName[]) {
  describe(`ctx.txn and nested calls over ${backend}`, () => {
    const fixture = new BackendFixture(backend);
    let cloud: Stratus;
    let store: Store;
    before(async () => {
      store = await fixture.open();
      // A short transaction limit, so that one test can outlive it.
      cloud = await Stratus.local({
        executors: 2,
        store,
        txn: { maxTxnMs: 2000, gcGraceMs: 60_000 },
      });
      await cloud.register("transfer", async (ctx, from: string, to: string, n: number) => {
        const tx = await ctx.txn.begin();
        const a = (await tx.get<number>(from)) ?? 100;
        tx.put(from, a - n);
        tx.put(to, ((await tx.get<number>(to)) ?? 0) + n);
        tx.merge("f/moves", ctx.lattices.counter(1));
        const own = [await tx.get(from), await tx.get("f/moves")];
        const outside = await ctx.get(from); // not committed yet: the plain store has nothing
        await tx.commit();
        return { own, outside };
      });
      await cloud.register("abandon", async (ctx) => {
        const tx = await ctx.txn.begin();
        tx.put("f/abandoned", 1);
        await tx.abort();
        return "dropped";
      });
      await cloud.register("stale", async (ctx) => {
        const tx = await ctx.txn.begin();
        tx.put("f/stale", 1);
        await ctx.recv({ timeoutMs: 2500 }); // nobody sends: outlive the 2 s limit
        try {
          await tx.commit();
          return "committed";
        } catch (e) {
          const err = e as TxnAbortedError;
          return { code: err.code, retryable: err.retryable, name: err.name };
        }
      });
      await cloud.register("staleUncaught", async (ctx) => {
        const tx = await ctx.txn.begin();
        tx.put("f/stale2", 1);
        await ctx.recv({ timeoutMs: 2500 });
        await tx.commit();
      });
      // Nested calls in a read-atomic run.
      await cloud.register("child", async (ctx, key: string) => {
        const seen = await ctx.get(key);
        await ctx.put(key + "/child", "c");
        await ctx.merge("n/count", ctx.lattices.counter(1));
        return seen;
      });
      await cloud.register("parent", async (ctx, key: string, fail: boolean) => {
        await ctx.put(key, "p");
        await ctx.merge("n/count", ctx.lattices.counter(1));
        const seen = await ctx.call("child", [key]);
        const back = await ctx.get(key + "/child");
        if (fail) throw new Error("parent fails after its nested call");
        return { seen, back };
      });
      await cloud.register("slowParent", async (ctx, key: string) => {
        await ctx.call("child", [key]);
        // Workers share this process: tell the test the nested call returned, and hold the
        // run (and so its commit) until the test has looked.
        const ch = new BroadcastChannel(`txnapi/${key}`);
        const go = new Promise((resolve) => (ch.onmessage = resolve));
        ch.postMessage("returned");
        await go;
        ch.close();
        return "done";
      });
      await cloud.register("slowOnce", async (ctx) => {
        // The test tells each attempt whether to outlive the transaction limit.
        const ch = new BroadcastChannel("txnapi/slowOnce");
        const slow = new Promise((resolve) => (ch.onmessage = (m) => resolve(m.data)));
        ch.postMessage("started");
        const outlive = (await slow) === true;
        ch.close();
        await ctx.put("r/once", "x");
        if (outlive) await ctx.recv({ timeoutMs: 2500 });
        return ctx.runId();
      });
      await cloud.register("joinTxn", async (ctx) => {
        await ctx.put("j/run", 1);
        const tx = await ctx.txn.begin();
        const seen = await tx.get("j/run");
        tx.put("j/tx", 2);
        await tx.commit();
        const dropped = await ctx.txn.begin();
        dropped.put("j/dropped", 3);
        await dropped.abort();
        return {
          seen,
          after: await ctx.get("j/tx"),
          dropped: (await ctx.get("j/dropped")) ?? null,
        };
      });
    });
    after(async () => {
      await cloud.close();
      await fixture.teardown();
    });

    it("ctx.txn: buffered, read-your-writes, both writes visible at commit", async () => {
      const out = await cloud.call("transfer", ["f/a", "f/b", 10]);
      assert.deepEqual(out, { own: [90, 1], outside: undefined });
      const r = await cloud.txn.begin();
      assert.deepEqual(
        [await r.get("f/a"), await r.get("f/b"), await r.get("f/moves")],
        [90, 10, 1],
      );
      assert.equal(await cloud.call("abandon", []), "dropped");
      assert.equal(await (await cloud.txn.begin()).get("f/abandoned"), undefined);
    });

    it("TXN_ABORTED reaches the function as its own retryable class, and the caller when uncaught", async () => {
      assert.deepEqual(await cloud.call("stale", []), {
        code: "TXN_ABORTED",
        retryable: true,
        name: "TxnAbortedError",
      });
      await assert.rejects(cloud.call("staleUncaught", []), (e: unknown) => {
        assert.ok(e instanceof TxnAbortedError);
        assert.equal(e.code, "TXN_ABORTED");
        return true;
      });
      const r = await cloud.txn.begin();
      assert.deepEqual([await r.get("f/stale"), await r.get("f/stale2")], [undefined, undefined]);
    });

    it("a nested call reads its caller's buffered writes; its writes commit with the caller's", async () => {
      const out = await cloud.call("parent", ["n/k1", false], RA);
      assert.deepEqual(out, { seen: "p", back: "c" });
      const r = await cloud.txn.begin();
      assert.deepEqual(
        [await r.get("n/k1"), await r.get("n/k1/child"), await r.get("n/count")],
        [
          "p",
          "c",
          2, // once each: the caller's merge was not counted again when the call came back
        ],
      );
      // Control: at lww the nested call writes straight through.
      await cloud.call("parent", ["n/k2", false]);
      assert.equal(await cloud.get("n/k2/child"), "c");
    });

    it("a nested call's write stays invisible until the outer run commits", async () => {
      const during = async (key: string, opts: object): Promise<unknown> => {
        const ch = new BroadcastChannel(`txnapi/${key}`);
        const returned = new Promise((resolve) => (ch.onmessage = resolve));
        const run = cloud.call("slowParent", [key], opts);
        await returned;
        const seen = await (await cloud.txn.begin()).get(`${key}/child`);
        ch.postMessage("go");
        assert.equal(await run, "done");
        ch.close();
        return seen;
      };
      assert.equal(await during("n/k3", RA), undefined);
      assert.equal(await (await cloud.txn.begin()).get("n/k3/child"), "c");
      // Control: at lww the same probe sees the nested write at once.
      assert.equal(await during("n/k4", {}), "c");
    });

    it("when the outer run fails, nothing of it or its nested calls is visible", async () => {
      const before = await (await cloud.txn.begin()).get("n/count");
      await assert.rejects(cloud.call("parent", ["n/k5", true], RA), { code: "FUNCTION_ERROR" });
      const r = await cloud.txn.begin();
      assert.deepEqual(
        [await r.get("n/k5"), await r.get("n/k5/child"), await r.get("n/count")],
        [undefined, undefined, before],
      );
      // Control: the same failure at lww leaves both writes behind.
      await assert.rejects(cloud.call("parent", ["n/k6", true]), { code: "FUNCTION_ERROR" });
      assert.deepEqual([await cloud.get("n/k6"), await cloud.get("n/k6/child")], ["p", "c"]);
    });

    it("the client marks its retry: the retry fences the first attempt and commits at epoch 2", async () => {
      const ch = new BroadcastChannel("txnapi/slowOnce");
      let starts = 0;
      ch.onmessage = () => ch.postMessage(++starts === 1);
      const tid = await cloud.call<string>("slowOnce", [], {
        consistency: "read-atomic",
        requestId: `slow-once-${backend}`,
      });
      ch.close();
      assert.equal(starts, 2, "the first attempt aborted (too old) and the client retried");
      const slot = async (e: number): Promise<unknown> => {
        const l = await store.get(recordKey(tid, e));
        return l?.kind === "lww" ? (decodeValue<{ f?: 1; e?: number }>(l.bytes) ?? null) : l;
      };
      assert.equal(((await slot(1)) as { f?: 1 }).f, 1, "epoch 1 holds a fence");
      assert.equal(((await slot(2)) as { e?: number }).e, 2, "epoch 2 holds the record");
      assert.equal(await (await cloud.txn.begin()).get("r/once"), "x");
    });

    it("inside a read-atomic run, ctx.txn joins the run: commit adds to it, abort drops", async () => {
      const out = await cloud.call("joinTxn", [], RA);
      assert.deepEqual(out, { seen: 1, after: 2, dropped: null });
      const r = await cloud.txn.begin();
      assert.deepEqual(
        [await r.get("j/run"), await r.get("j/tx"), await r.get("j/dropped")],
        [1, 2, undefined],
      );
    });
  });
}

describe("transaction errors over the wire", () => {
  it("TXN_FENCED and TXN_ABORTED keep their class, code and retryability", () => {
    for (const e of [new TxnFencedError("fenced"), new TxnAbortedError("aborted")]) {
      const back = fromWireError(structuredClone(toWireError(e)));
      assert.equal(back.constructor, e.constructor);
      assert.equal(back.code, e.code);
      assert.equal(back.retryable, true);
    }
  });
});

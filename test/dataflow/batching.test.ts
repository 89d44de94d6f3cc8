/**
 * Runs that the batching pass puts together are strangers: each succeeds or fails on its own.
 * A bad row fails only the run that sent it, and a run's deadline is its own (a short one fails
 * alone, queued or in flight; the batch goes on for the others). On an embedded cluster
 * (scheduler, node and executors talking over real sockets).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Flow, FunctionError, Stratus, TimeoutError } from "../../src/index.js";

describe("dataflow batching isolates runs", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 2 });
  });
  after(async () => {
    await cloud?.close();
  });

  /** A batch map that reports the size of the batch it saw, and throws on a negative row. */
  const picky = (name: string) => {
    const flow = Flow.create(name, { x: "number" });
    const m = flow.input.map(
      "picky",
      (ctx, rows) => {
        if (rows.some((r) => (r.x ?? 0) < 0)) throw new Error("negative row");
        return rows.map((r) => ({ x: r.x, n: rows.length }));
      },
      { schema: { x: "number", n: "number" }, batch: true },
    );
    return flow.output(m);
  };

  it("one bad row fails only its own run; the others in its batch succeed", async () => {
    const app = await picky("batch-bad-row").deploy(cloud, {
      batch: { maxRows: 8, latencyTargetMs: 60_000 },
    });
    // Control: eight good runs travel as one batch of eight.
    const good = await Promise.all(Array.from({ length: 8 }, (_, x) => app.run([{ x }])));
    assert.deepEqual(
      good.map((o) => o[0]),
      Array.from({ length: 8 }, (_, x) => ({ x, n: 8 })),
    );
    // The same batch with one stranger's bad row in it.
    const xs = [0, 1, 2, -1, 4, 5, 6, 7];
    const outs = await Promise.allSettled(xs.map((x) => app.run([{ x }])));
    outs.forEach((o, k) => {
      if (xs[k] === -1) {
        assert.equal(o.status, "rejected");
        assert.ok(o.reason instanceof FunctionError, String(o.reason));
        assert.match(o.reason.message, /negative row/);
      } else {
        assert.equal(
          o.status,
          "fulfilled",
          `run of x=${xs[k]}: ${String(o.status === "rejected" && o.reason)}`,
        );
        assert.equal(o.value[0]?.x, xs[k]);
      }
    });
  });

  it("a short deadline in flight fails only its own run; the batch finishes for the others", async () => {
    const flow = Flow.create("batch-slow", { x: "number" });
    flow.output(
      flow.input.map(
        "slow",
        async (ctx, rows) => {
          await new Promise((r) => setTimeout(r, 1_500));
          return rows.map((r) => ({ x: r.x, n: rows.length }));
        },
        { schema: { x: "number", n: "number" }, batch: true },
      ),
    );
    const app = await flow.deploy(cloud, { batch: { maxRows: 4, latencyTargetMs: 60_000 } });
    const outs = await Promise.allSettled([
      app.run([{ x: 0 }], { timeoutMs: 100 }),
      app.run([{ x: 1 }]),
      app.run([{ x: 2 }]),
      app.run([{ x: 3 }]),
    ]);
    const [short, ...rest] = outs;
    assert.equal(short?.status, "rejected");
    assert.ok(short.reason instanceof TimeoutError, String(short.reason));
    rest.forEach((o, k) => {
      assert.equal(o.status, "fulfilled", String(o.status === "rejected" && o.reason));
      // They were batched with the short run, which the map still saw.
      assert.deepEqual(o.value, [{ x: k + 1, n: 4 }]);
    });
  });

  it("a queued run whose deadline passes leaves the queue; the next batch is the others'", async () => {
    const app = await picky("batch-expired").deploy(cloud, {
      batch: { maxRows: 4, latencyTargetMs: 600_000 },
    });
    // Alone in a queue that would wait five minutes for company, it fails at its own deadline.
    await assert.rejects(app.run([{ x: -1 }], { timeoutMs: 50 }), TimeoutError);
    const outs = await Promise.all([0, 1, 2, 3].map((x) => app.run([{ x }])));
    // Its bad row is not in the batch the others then form.
    assert.deepEqual(
      outs.map((o) => o[0]),
      [0, 1, 2, 3].map((x) => ({ x, n: 4 })),
    );
  });

  it("a timeoutMs that is not a positive number is refused before queueing", async () => {
    const app = await picky("batch-bad-timeout").deploy(cloud, { batch: { maxRows: 2 } });
    await assert.rejects(app.run([{ x: 1 }], { timeoutMs: Number.NaN }), {
      code: "INVALID_ARGUMENT",
      message: /timeoutMs/,
    });
  });
});

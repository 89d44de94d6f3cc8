/**
 * Every operator's semantics, each flow run unoptimized (one function per operator) and optimized
 * (fused), on an embedded cluster (scheduler, node and executors talking over real sockets).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Flow, Stratus } from "../../src/index.js";
import type { Row } from "../../src/index.js";

const MODES = [
  { label: "unoptimized", optimize: false },
  { label: "optimized", optimize: true },
] as const;

const byKey = <T>(rows: T[], key: (r: T) => string): T[] =>
  [...rows].sort((a, b) => key(a).localeCompare(key(b)));

describe("dataflow operators", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 2 });
  });
  after(async () => {
    await cloud?.close();
  });

  for (const { label, optimize } of MODES) {
    describe(label, () => {
      it("map and filter keep row order; a batch map receives the rows together", async () => {
        const flow = Flow.create(`mf-${label}`, { x: "number" });
        const doubled = flow.input.map("double", (ctx, r) => ({ y: (r.x ?? 0) * 2 }), {
          schema: { y: "number" },
        });
        const kept = doubled.filter("odd4", (ctx, r) => (r.y ?? 0) % 4 !== 0);
        const sized = kept.map(
          "withsize",
          (ctx, rows) => rows.map((r) => ({ y: r.y, batch: rows.length })),
          { schema: { y: "number", batch: "number" }, batch: true },
        );
        flow.output(sized);
        const app = await flow.deploy(cloud, { optimize });
        const out = await app.run([1, 2, 3, 4, 5].map((x) => ({ x })));
        assert.deepEqual(out, [
          { y: 2, batch: 3 },
          { y: 6, batch: 3 },
          { y: 10, batch: 3 },
        ]);
        assert.deepEqual(await app.run([]), []);
      });

      it("groupby + agg: count, sum, min, max, avg per group", async () => {
        const rows = [
          { k: "a", v: 1 },
          { k: "b", v: 10 },
          { k: "a", v: 5 },
          { k: "a", v: 3 },
        ];
        const expected = {
          count: { a: 3, b: 1 },
          sum: { a: 9, b: 10 },
          min: { a: 1, b: 10 },
          max: { a: 5, b: 10 },
          avg: { a: 3, b: 10 },
        };
        for (const fn of ["count", "sum", "min", "max", "avg"] as const) {
          const flow = Flow.create(`agg-${fn}-${label}`, { k: "string", v: "number" });
          const pass = flow.input.map("pass", (ctx, r) => r, {
            schema: { k: "string", v: "number" },
          });
          if (fn === "count") flow.output(pass.groupby("k").agg("count"));
          else flow.output(pass.groupby("k").agg(fn, "v"));
          const app = await flow.deploy(cloud, { optimize });
          const out = await app.run(rows);
          const got: Record<string, unknown> = {};
          for (const r of out as Record<string, unknown>[]) got[String(r.k)] = r[fn];
          assert.deepEqual(got, expected[fn], fn);
        }
      });

      it("join on the row id: inner, left and outer", async () => {
        const results: Record<string, unknown> = {};
        for (const how of ["inner", "left", "outer"] as const) {
          const flow = Flow.create(`jid-${how}-${label}`, { x: "number" });
          const small = flow.input.map("small", (ctx, r) => ({ x: r.x, s: `s${r.x}` }), {
            schema: { x: "number", s: "string" },
          });
          const big = flow.input
            .filter("unsure", (ctx, r) => (r.x ?? 0) >= 2)
            .map("big", (ctx, r) => ({ b: (r.x ?? 0) * 100 }), { schema: { b: "number" } });
          flow.output(small.join(big, { how }));
          const app = await flow.deploy(cloud, { optimize });
          results[how] = await app.run([{ x: 1 }, { x: 2 }, { x: 3 }]);
        }
        assert.deepEqual(results.inner, [
          { x: 2, s: "s2", b: 200 },
          { x: 3, s: "s3", b: 300 },
        ]);
        assert.deepEqual(results.left, [
          { x: 1, s: "s1", b: null },
          { x: 2, s: "s2", b: 200 },
          { x: 3, s: "s3", b: 300 },
        ]);
        assert.deepEqual(results.left, results.outer); // every right row matched
      });

      it("join on a column: outer keeps unmatched rows of both sides", async () => {
        const flow = Flow.create(`jcol-${label}`, { id: "string", side: "string", v: "number" });
        const left = flow.input
          .filter("lefts", (ctx, r) => r.side === "L")
          .map("lv", (ctx, r) => ({ id: r.id, l: r.v }), { schema: { id: "string", l: "number" } });
        const right = flow.input
          .filter("rights", (ctx, r) => r.side === "R")
          .map("rv", (ctx, r) => ({ id: r.id, r: r.v }), { schema: { id: "string", r: "number" } });
        flow.output(left.join(right, { on: "id", how: "outer" }));
        const app = await flow.deploy(cloud, { optimize });
        const out = await app.run([
          { id: "a", side: "L", v: 1 },
          { id: "b", side: "L", v: 2 },
          { id: "b", side: "R", v: 20 },
          { id: "c", side: "R", v: 30 },
        ]);
        assert.deepEqual(
          byKey(out, (r) => String(r.id)),
          [
            { id: "a", l: 1, r: null },
            { id: "b", l: 2, r: 20 },
            { id: "c", l: null, r: 30 },
          ],
        );
      });

      it("lookup: a fixed key, and a key computed per row", async () => {
        await cloud.put("df-ops/rate", 3);
        await cloud.put("df-ops/user/ann", { name: "Ann" });
        await cloud.put("df-ops/user/bob", { name: "Bob" });
        const flow = Flow.create(`lookup-${label}`, { user: "string", n: "number" });
        const withRate = flow.input.lookup("df-ops/rate", { as: "rate", type: "number" });
        const withUser = withRate.lookup((r) => `df-ops/user/${r.user}`, { as: "profile" });
        flow.output(
          withUser.map(
            "bill",
            (ctx, r) => ({
              who: (r.profile as { name: string }).name,
              due: (r.n ?? 0) * (r.rate ?? 0),
            }),
            { schema: { who: "string", due: "number" } },
          ),
        );
        const app = await flow.deploy(cloud, { optimize });
        const out = await app.run([
          { user: "ann", n: 2 },
          { user: "bob", n: 5 },
          { user: "ann", n: 1 },
        ]);
        assert.deepEqual(
          byKey(out, (r) => `${String(r.who)}${String(r.due)}`),
          [
            { who: "Ann", due: 3 },
            { who: "Ann", due: 6 },
            { who: "Bob", due: 15 },
          ],
        );
      });

      it("union concatenates; anyof takes the first branch to finish", async () => {
        const flow = Flow.create(`union-${label}`, { x: "number" });
        const a = flow.input.map("ua", (ctx, r) => ({ x: r.x, from: "a" }), {
          schema: { x: "number", from: "string" },
        });
        const b = flow.input.map("ub", (ctx, r) => ({ x: r.x, from: "b" }), {
          schema: { x: "number", from: "string" },
        });
        flow.output(a.union(b));
        const app = await flow.deploy(cloud, { optimize });
        const out = await app.run([{ x: 1 }, { x: 2 }]);
        assert.deepEqual(
          byKey(out, (r) => `${String(r.from)}${String(r.x)}`),
          [
            { x: 1, from: "a" },
            { x: 2, from: "a" },
            { x: 1, from: "b" },
            { x: 2, from: "b" },
          ],
        );

        const race = Flow.create(`anyof-${label}`, { x: "number" });
        const fast = race.input.map("fast", (ctx, r) => ({ x: r.x, from: "fast" }), {
          schema: { x: "number", from: "string" },
        });
        const slow = race.input.map(
          "slow",
          async (ctx, r) => {
            await new Promise((resolve) => setTimeout(resolve, 3_000));
            return { x: r.x, from: "slow" };
          },
          { schema: { x: "number", from: "string" } },
        );
        race.output(slow.anyof(fast));
        const raced = await race.deploy(cloud, { optimize });
        assert.deepEqual(await raced.run([{ x: 7 }]), [{ x: 7, from: "fast" }]);
      });

      it("{ future: true } gives a future whose rows are pushed", async () => {
        const flow = Flow.create(`fut-${label}`, { x: "number" });
        flow.output(
          flow.input.map("inc", (ctx, r) => ({ x: (r.x ?? 0) + 1 }), { schema: { x: "number" } }),
        );
        const app = await flow.deploy(cloud, { optimize });
        const fut = await app.run([{ x: 1 }, { x: 2 }], { future: true });
        assert.equal(typeof fut.id, "string");
        assert.deepEqual(await fut.get(), [{ x: 2 }, { x: 3 }]);
      });
    });
  }

  it("groupby + agg of rows from several requests batched together stays per request", async () => {
    const flow = Flow.create("agg-batched", { k: "string" });
    const tagged = flow.input.map(
      "tag",
      (ctx, rows) => rows.map((r) => ({ k: r.k, n: rows.length })),
      { schema: { k: "string", n: "number" }, batch: true },
    );
    flow.output(tagged.groupby("k").agg("count"));
    const app = await flow.deploy(cloud, { batch: { maxRows: 4, latencyTargetMs: 10_000 } });
    const [a, b] = await Promise.all([
      app.run([{ k: "x" }, { k: "x" }]),
      app.run([{ k: "x" }, { k: "y" }]),
    ]);
    assert.deepEqual(a, [{ k: "x", count: 2 }]);
    assert.deepEqual(
      byKey(b ?? [], (r) => String(r.k)),
      [
        { k: "x", count: 1 },
        { k: "y", count: 1 },
      ],
    );
  });

  it("types: rows are typed by their schema (checked by typecheck)", () => {
    const flow = Flow.create("types", { url: "string", n: "number" });
    const s = flow.input.map("t", (ctx, r) => ({ len: r.url?.length ?? 0 }), {
      schema: { len: "number" },
    });
    // @ts-expect-error: no column "nope" in the input rows
    flow.input.map("bad1", (ctx, r) => ({ len: r.nope }), { schema: { len: "number" } }); // eslint-disable-line @typescript-eslint/no-unsafe-assignment
    // @ts-expect-error: the map returns a string where its schema says number
    flow.input.map("bad2", (ctx, r) => ({ len: r.url }), { schema: { len: "number" } });
    // @ts-expect-error: groupby a column the stage does not have
    assert.throws(() => s.groupby("url"), { code: "UNKNOWN_COLUMN" });
    // @ts-expect-error: sum of a string column
    assert.throws(() => flow.input.groupby("n").agg("sum", "url"), { code: "UNKNOWN_COLUMN" });
    // @ts-expect-error: a join column only one side has
    assert.throws(() => s.join(flow.input, { on: "url" }), { code: "UNKNOWN_COLUMN" });
    const typed: Row<{ len: "number" }> = { len: 1 };
    assert.equal(typed.len, 1);
  });
});

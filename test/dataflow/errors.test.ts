/**
 * Bad input gets a typed error naming the operator and the column, at build, deploy or run time,
 * and the cluster keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  BadFlowError,
  Flow,
  SchemaMismatchError,
  Stratus,
  UnknownColumnError,
  passes,
  plan,
} from "../../src/index.js";
import type { OpSpec } from "../../src/index.js";

describe("dataflow errors", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 1 });
  });
  after(async () => {
    await cloud?.close();
  });

  it("a map whose output does not match its schema: SCHEMA_MISMATCH naming map and column", async () => {
    for (const optimize of [false, true]) {
      const flow = Flow.create(`bad-map-${optimize}`, { x: "number" });
      const m = flow.input.map(
        "label",
        // Deliberately wrong at run time: the cast hides it from the compiler.
        (ctx, r) => ({ name: r.x as unknown as string }),
        { schema: { name: "string" } },
      );
      flow.output(m);
      const app = await flow.deploy(cloud, { optimize });
      await assert.rejects(app.run([{ x: 1 }]), (e: unknown) => {
        assert.ok(e instanceof SchemaMismatchError, String(e));
        assert.match(e.message, /map label: output row 0 column name should be string, not number/);
        return true;
      });
    }
    const extra = Flow.create("bad-map-extra", { x: "number" });
    extra.output(
      extra.input.map("more", (ctx, r) => ({ y: r.x, z: 1 }) as unknown as { y: number }, {
        schema: { y: "number" },
      }),
    );
    await assert.rejects((await extra.deploy(cloud)).run([{ x: 1 }]), {
      code: "SCHEMA_MISMATCH",
      message: /map more: output row 0 has column z, not in its schema/,
    });
    const batch = Flow.create("bad-batch", { x: "number" });
    batch.output(
      batch.input.map("drops", (ctx, rows) => rows.slice(1), {
        schema: { x: "number" },
        batch: true,
      }),
    );
    await assert.rejects((await batch.deploy(cloud)).run([{ x: 1 }, { x: 2 }]), {
      code: "SCHEMA_MISMATCH",
      message: /map drops: a batch map must return one row per input row \(2\), not 1/,
    });
  });

  it("an input row that does not match the input schema: SCHEMA_MISMATCH naming the column", async () => {
    const flow = Flow.create("bad-input", { url: "string" });
    flow.output(flow.input.filter("all", () => true));
    const app = await flow.deploy(cloud);
    await assert.rejects(app.run([{ url: "a" }, { url: 3 as unknown as string }]), {
      code: "SCHEMA_MISMATCH",
      message: /input: row 1 column url should be string, not number/,
    });
  });

  it("a join, groupby or agg on a missing column: UNKNOWN_COLUMN naming operator and column", () => {
    const flow = Flow.create("bad-cols", { a: "string", n: "number" });
    const other = flow.input.map("o", (ctx, r) => ({ b: r.a }), { schema: { b: "string" } });
    assert.throws(
      () => flow.input.join(other, { on: "a" as never }),
      (e: unknown) =>
        e instanceof UnknownColumnError &&
        /join join\d+: the right side has no column a/.test(e.message) &&
        e.details?.column === "a",
    );
    assert.throws(() => flow.input.groupby("zz" as never), {
      code: "UNKNOWN_COLUMN",
      message: /groupby: has no column zz/,
    });
    assert.throws(() => flow.input.groupby("a").agg("avg", "a" as never), {
      code: "UNKNOWN_COLUMN",
      message: /column a is not a number column/,
    });
  });

  it("a flow without output, or with a cycle: BAD_FLOW at deploy", async () => {
    const flow = Flow.create("no-output", { x: "number" });
    flow.input.filter("f", () => true);
    await assert.rejects(flow.deploy(cloud), (e: unknown) => {
      assert.ok(e instanceof BadFlowError);
      assert.match(e.message, /no-output has no output/);
      return true;
    });
    // The builder cannot make a cycle (each operator reads earlier ones); the planner still
    // refuses one in a hand-made graph.
    const ops = new Map<string, OpSpec>([
      ["input", { id: "input", kind: "input", ins: [] }],
      ["a", { id: "a", kind: "union", ins: ["input", "b"] }],
      ["b", { id: "b", kind: "filter", ins: ["a"], fn: true }],
    ]);
    assert.throws(() => plan("cyc", ops, "b", passes(true)), {
      code: "BAD_FLOW",
      message: /cyc has a cycle: b -> a -> b/,
    });
    const other = Flow.create("other", { x: "number" });
    assert.throws(() => flow.input.union(other.input), { code: "BAD_FLOW" });
  });

  it("a stage capturing a variable: BAD_FUNCTION at deploy, naming it", async () => {
    const factor = 3;
    const flow = Flow.create("captures", { x: "number" });
    flow.output(
      flow.input.map("times", (ctx, r) => ({ x: (r.x ?? 0) * factor }), {
        schema: { x: "number" },
      }),
    );
    await assert.rejects(flow.deploy(cloud), { code: "BAD_FUNCTION", message: /factor/ });
  });

  it("after all of that the cluster still serves flows", async () => {
    const flow = Flow.create("still-fine", { x: "number" });
    flow.output(
      flow.input.map("inc", (ctx, r) => ({ x: (r.x ?? 0) + 1 }), { schema: { x: "number" } }),
    );
    assert.deepEqual(await (await flow.deploy(cloud)).run([{ x: 41 }]), [{ x: 42 }]);
    const status = await cloud.status();
    assert.equal(status.nodes.length, 1);
    assert.equal(status.nodes[0]?.executors, 1);
  });
});

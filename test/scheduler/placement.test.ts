import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Placer, buildSchedule, validateDag } from "../../src/scheduler/index.js";
import type { Member } from "../../src/scheduler/index.js";

function member(id: string, o: Partial<Member> = {}): Member {
  return {
    id,
    addr: `stratus://${id}:1`,
    executors: 2,
    busy: 0,
    queued: 0,
    cached: [],
    startedAt: 0,
    seenAt: 0,
    ...o,
  };
}

describe("scheduler: placement", () => {
  it("sends a call to the node caching most bytes of its references", () => {
    const nodes = [
      member("a"),
      member("b", { cached: [["x", 8e6]] }),
      member("c", { cached: [["y", 10]] }),
    ];
    const p = new Placer(() => nodes);
    for (let i = 0; i < 20; i++) assert.equal(p.place([{ fn: "f", refs: ["x", "y"] }]).f?.id, "b");
  });

  it("sends keys no node caches to the node with the most room, so they spread evenly", () => {
    const nodes = [
      member("a", { cached: [["k0", 5e6]] }),
      member("b", { cached: [["k1", 5e6]] }),
      member("c"),
    ];
    const p = new Placer(() => nodes);
    // c caches nothing: the first new key goes there; then each node has one key or one on the
    // way, and the next three new keys take one node each.
    assert.equal(p.place([{ fn: "f", refs: ["n0"] }]).f?.id, "c");
    const next = ["n1", "n2", "n3"].map((k) => p.place([{ fn: "f", refs: [k] }]).f?.id);
    assert.deepEqual([...next].sort(), ["a", "b", "c"]);
    // Control: without references the choice is by load alone, and goes anywhere.
    const anywhere = new Set(
      Array.from({ length: 40 }, () => p.place([{ fn: "f", refs: [] }]).f?.id),
    );
    assert.ok(anywhere.size > 1, `calls without references all went to ${[...anywhere].join()}`);
  });

  it("places a pinned function on its node while that node is live and not excluded", () => {
    const nodes = [member("a"), member("b", { cached: [["x", 8e6]] })];
    const p = new Placer(() => nodes, "locality", undefined, { f: "a", ghost: "z" });
    for (let i = 0; i < 10; i++) {
      const where = p.place([
        { fn: "f", refs: ["x"] },
        { fn: "ghost", refs: ["x"] },
      ]);
      assert.equal(where.f?.id, "a", "the pin beats cached bytes");
      assert.equal(where.ghost?.id, "b", "a pin to a node that is not live is ignored");
    }
    assert.equal(p.place([{ fn: "f", refs: [] }], new Set(["a"])).f?.id, "b");
  });

  it("leaves a cached node that is far busier than the rest", () => {
    const nodes = [member("a"), member("b", { cached: [["x", 8e6]], queued: 40 })];
    assert.equal(new Placer(() => nodes).place([{ fn: "f", refs: ["x"] }]).f?.id, "a");
  });

  it("keeps a DAG's next function with its upstream unless that node is busier", () => {
    const nodes = [member("a"), member("b")];
    const p = new Placer(() => nodes);
    const where = p.place([
      { fn: "f", refs: [] },
      { fn: "g", refs: [], upstream: "f" },
    ]);
    assert.equal(where.g?.id, where.f?.id);
    const busy = [member("a", { queued: 10 }), member("b")];
    const q = new Placer(() => busy);
    const w2 = q.place([{ fn: "f", refs: [] }]);
    assert.equal(w2.f?.id, "b", "the less loaded of two choices");
  });

  it("counts calls it sent until they finish, so a burst spreads between heartbeats", () => {
    const nodes = [member("a"), member("b")];
    const p = new Placer(() => nodes);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const id = p.place([{ fn: "f", refs: [] }]).f?.id as string;
      p.sent(id);
      seen.add(id);
    }
    assert.deepEqual([...seen].sort(), ["a", "b"]);
  });

  it("avoids excluded nodes, spreads when asked, and refuses when no node is live", () => {
    const nodes = [member("a"), member("b"), member("c")];
    const p = new Placer(() => nodes);
    for (let i = 0; i < 10; i++)
      assert.notEqual(p.place([{ fn: "f", refs: [] }], new Set(["a"])).f?.id, "a");
    const spread = new Placer(() => nodes, "spread").place([
      { fn: "f", refs: [] },
      { fn: "g", refs: [], upstream: "f" },
      { fn: "h", refs: [], upstream: "g" },
    ]);
    assert.equal(new Set(Object.values(spread).map((m) => m.id)).size, 3);
    assert.throws(() => new Placer(() => []).place([{ fn: "f", refs: [] }]), {
      code: "NO_RESOURCES",
    });
  });
});

describe("scheduler: DAG definitions", () => {
  it("validates and builds a schedule with edge-ordered upstreams", () => {
    const def = validateDag("d", {
      functions: ["a", "b", "j"],
      edges: [
        ["b", "j"],
        ["a", "j"],
      ],
    });
    const s = buildSchedule(def, {
      a: { node: "n", addr: "x" },
      b: { node: "n", addr: "x" },
      j: { node: "m", addr: "y" },
    });
    assert.deepEqual(s.j?.prev, ["b", "a"]);
    assert.deepEqual(s.a?.next, ["j"]);
  });

  it("rejects cycles, unknown functions, self-loops, two sinks and bad names with BAD_DAG", () => {
    const bad: [string, Parameters<typeof validateDag>[1]][] = [
      [
        "cycle",
        {
          functions: ["a", "b"],
          edges: [
            ["a", "b"],
            ["b", "a"],
          ],
        },
      ],
      ["unknown", { functions: ["a"], edges: [["a", "z"]] }],
      ["loop", { functions: ["a"], edges: [["a", "a"]] }],
      [
        "sinks",
        {
          functions: ["a", "b", "c"],
          edges: [
            ["a", "b"],
            ["a", "c"],
          ],
        },
      ],
      ["empty", { functions: [] }],
      ["dup", { functions: ["a", "a"] }],
    ];
    for (const [name, spec] of bad)
      assert.throws(() => validateDag(name, spec), { code: "BAD_DAG" }, name);
    assert.throws(() => validateDag("no spaces", { functions: ["a"] }), { code: "BAD_DAG" });
  });
});

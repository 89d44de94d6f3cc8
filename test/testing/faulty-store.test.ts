/**
 * The fault-injecting store of testing/: each kind of fault does what it says to the calls it
 * is scripted for, and to no other call.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CounterLattice, MaxLattice } from "../../src/lattice/index.js";
import { isStratusError } from "../../src/errors/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { ChangeEvent } from "../../src/storage/index.js";
import { FaultyStore } from "../../testing/faulty-store.js";

const unavailable = (applied: boolean) => (e: unknown) =>
  isStratusError(e) && e.code === "STORAGE_UNAVAILABLE" && e.details?.applied === applied;

async function open(): Promise<{ store: FaultyStore; inner: MemoryStore }> {
  const inner = await MemoryStore.open();
  return { store: new FaultyStore(inner), inner };
}

describe("FaultyStore", () => {
  it("fails before or after applying, only on the operations and key prefix it is given", async () => {
    const { store, inner } = await open();
    const before = store.inject({ ops: "put", prefix: "a/", fault: "fail-before", times: 1 });
    const after = store.inject({ ops: "putIfAbsent", prefix: "b/", fault: "fail-after" });
    await assert.rejects(store.put("a/1", new MaxLattice(1)), unavailable(false));
    assert.equal(await inner.get("a/1"), undefined, "failed before: nothing written");
    await assert.rejects(store.putIfAbsent("b/1", new MaxLattice(2)), unavailable(true));
    assert.equal((await inner.get("b/1"))?.kind, "max", "failed after: written");
    // Other keys, other operations, and a rule past its `times` go through.
    await store.put("a/1", new MaxLattice(3));
    await store.put("b/2", new MaxLattice(4));
    assert.equal(await store.putIfAbsent("c/1", new MaxLattice(5)), true);
    assert.deepEqual([before.fired, after.fired], [1, 1]);
    assert.deepEqual(
      store.fired().map((f) => [f.op, f.keys[0], f.fault]),
      [
        ["put", "a/1", "fail-before"],
        ["putIfAbsent", "b/1", "fail-after"],
      ],
    );
    assert.equal(store.calls.get("put"), 3);
    await store.close();
  });

  it("skips calls before firing, matches a multi-key call by any key, and is removable", async () => {
    const { store } = await open();
    const f = store.inject({
      ops: ["get", "getMany"],
      prefix: "x/",
      fault: "fail-before",
      skip: 1,
    });
    await store.get("x/1"); // skipped
    await assert.rejects(store.getMany(["y/1", "x/2"]), unavailable(false));
    f.remove();
    await store.get("x/3");
    assert.deepEqual([f.matched, f.fired], [2, 1]);
    await store.close();
  });

  it("answers with an unknown outcome: applied or not, as `lands` decides, and logged as such", async () => {
    const { store, inner } = await open();
    const lands = [true, false];
    store.inject({ ops: "put", fault: "unknown", lands: () => lands.shift() ?? true });
    await assert.rejects(store.put("k1", CounterLattice.delta(1)), unavailable(true));
    await assert.rejects(store.put("k2", CounterLattice.delta(1)), unavailable(false));
    assert.deepEqual(
      store.fired().map((f) => f.fault),
      ["fail-after", "fail-before"],
    );
    assert.equal((await inner.get("k1"))?.kind, "counter");
    assert.equal(await inner.get("k2"), undefined);
    await store.close();
  });

  it("holds a call until its gate opens", async () => {
    const { store, inner } = await open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.inject({ ops: "put", fault: "pass", delay: () => gate });
    let done = false;
    const put = store.put("k", new MaxLattice(1)).then(() => (done = true));
    await inner.put("other", new MaxLattice(1)); // a round trip of the store meanwhile
    assert.equal(done, false);
    assert.equal(await inner.get("k"), undefined, "not applied while held");
    release();
    await put;
    assert.equal((await inner.get("k"))?.kind, "max");
    await store.close();
  });

  it("drops or holds change notifications; sync waits for held ones; reset reaches subscribers", async () => {
    const { store } = await open();
    const seen: ChangeEvent[] = [];
    await store.subscribe("", (ev) => seen.push(ev));
    const drop = store.inject({ ops: "notify", prefix: "lost/", fault: "drop" });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.inject({ ops: "notify", prefix: "late/", fault: "pass", delay: () => gate });
    await store.put("lost/1", new MaxLattice(1));
    await store.put("late/1", new MaxLattice(1));
    await store.put("kept/1", new MaxLattice(1));
    assert.deepEqual(seen, [{ kind: "put", key: "kept/1" }]);
    const synced = store.sync();
    release();
    await synced;
    assert.deepEqual(seen.slice(1), [{ kind: "put", key: "late/1" }]);
    assert.equal(drop.fired, 1);
    await store.reset();
    assert.deepEqual(seen.at(-1), { kind: "reset" });
    assert.throws(() => store.inject({ ops: "put", fault: "drop" }), { code: "INVALID_ARGUMENT" });
    await store.close();
  });
});

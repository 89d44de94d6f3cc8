/**
 * `putIfAbsentThenMerge`: a transaction's commit record and its write-back in one step. One Redis
 * server runs it as one script; the memory store as one change (with a log, one record, replayed
 * as one); a Redis Cluster declines (its keys live in different slots) and writes nothing, so the
 * caller takes the two steps.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isStratusError } from "../../src/errors/index.js";
import {
  CounterLattice,
  HybridClock,
  LwwLattice,
  MapLattice,
  MaxLattice,
  SetLattice,
} from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { ChangeEvent, Store } from "../../src/storage/index.js";
import { BackendFixture } from "../../testing/backends.js";
import type { BackendName } from "../../testing/backends.js";

const clock = new HybridClock({ node: "put-then-merge" });

function record(tag: string): LwwLattice {
  return LwwLattice.of({ tag }, clock.now());
}

for (const backend of ["redis", "memory", "memory-log"] as BackendName[])
  describe(`putIfAbsentThenMerge on ${backend}`, () => {
    const fx = new BackendFixture(backend);
    let store: Store;
    let call: NonNullable<Store["putIfAbsentThenMerge"]>;

    before(async () => {
      store = await fx.open();
      assert.ok(store.putIfAbsentThenMerge !== undefined, "done in one step");
      call = (key, value, merges) => store.putIfAbsentThenMerge!(key, value, merges);
    });
    after(() => fx.teardown());

    it("stores the key and applies every merge, once", async () => {
      const merges = [
        ["u/a", LwwLattice.of("A", clock.now())],
        ["u/ctr", new CounterLattice([["~slot", [3, 0]]])],
        ["u/set", SetLattice.of(["x"])],
        ["u/doc", MapLattice.of({ n: new MaxLattice(4), c: new CounterLattice([["~s", [2, 0]]]) })],
      ] as const;
      assert.equal(await call("rec/1", record("one"), merges), "stored");
      assert.deepEqual(((await store.get("rec/1")) as LwwLattice).value(), { tag: "one" });
      assert.equal(((await store.get("u/a")) as LwwLattice).value(), "A");
      assert.equal(((await store.get("u/ctr")) as CounterLattice).value, 3);
      assert.deepEqual(((await store.get("u/set")) as SetLattice).values(), ["x"]);
      const doc = (await store.get("u/doc")) as MapLattice;
      assert.equal((doc.get("n") as MaxLattice).value, 4);
      assert.equal((doc.get("c") as CounterLattice).value, 2);

      // Present: nothing is written, not even merges that would change their keys.
      const again = [
        ["u/a", LwwLattice.of("B", clock.now())],
        ["u/ctr", new CounterLattice([["~other", [5, 0]]])],
      ] as const;
      assert.equal(await call("rec/1", record("two"), again), "present");
      assert.deepEqual(((await store.get("rec/1")) as LwwLattice).value(), { tag: "one" });
      assert.equal(((await store.get("u/a")) as LwwLattice).value(), "A");
      assert.equal(((await store.get("u/ctr")) as CounterLattice).value, 3);
    });

    it("of many concurrent callers, exactly one stores and merges", async () => {
      const n = 40;
      const outcomes = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          call("rec/race", record(`r${i}`), [["u/race", new CounterLattice([[`~w${i}`, [1, 0]]])]]),
        ),
      );
      assert.equal(outcomes.filter((o) => o === "stored").length, 1);
      assert.equal(outcomes.filter((o) => o === "present").length, n - 1);
      assert.equal(((await store.get("u/race")) as CounterLattice).value, 1);
    });

    it("stores and says partial when a merge is refused; the other merges apply", async () => {
      await store.put("u/max", new MaxLattice(1));
      const merges = [
        ["u/ok1", new MaxLattice(5)],
        ["u/max", LwwLattice.of("not a max", clock.now())],
        ["u/ok2", new MaxLattice(6)],
      ] as const;
      assert.equal(await call("rec/partial", record("p"), merges), "partial");
      assert.ok((await store.get("rec/partial")) !== undefined, "the record is stored");
      assert.equal(
        ((await store.get("u/max")) as MaxLattice).value,
        1,
        "the refused key is as it was",
      );
      assert.equal(((await store.get("u/ok1")) as MaxLattice).value, 5);
      assert.equal(((await store.get("u/ok2")) as MaxLattice).value, 6);
      // The caller learns which one by merging again, one by one.
      await assert.rejects(
        store.put("u/max", LwwLattice.of("not a max", clock.now())),
        (e: unknown) => isStratusError(e) && e.code === "LATTICE_TYPE_MISMATCH",
      );
    });

    it("deletes, except a last-writer-wins value written after the given time", async () => {
      await store.put("u/del/old", LwwLattice.of("old", clock.now()));
      await store.put("u/del/new", LwwLattice.of("new", clock.now()));
      await store.put("u/del/ctr", new CounterLattice([["w", [7, 0]]]));
      await store.put("u/del/set", SetLattice.of(["x"]));
      const at = clock.now(); // the commit's time: "u/del/new" is written again after it
      await store.put("u/del/new", LwwLattice.of("newer", clock.now()));
      const writes = [
        ["u/del/old", null, at],
        ["u/del/new", null, at],
        ["u/del/ctr", null, at],
        ["u/del/set", null, at],
        ["u/del/none", null, at],
      ] as const;
      assert.equal(await call("rec/del", record("d"), writes), "stored");
      assert.equal(await store.get("u/del/old"), undefined);
      assert.equal(((await store.get("u/del/new")) as LwwLattice).value(), "newer");
      assert.equal(await store.get("u/del/set"), undefined);
      assert.equal(await store.get("u/del/ctr"), undefined);
      // A deleted counter keeps its floors: the same writer's totals count only above them.
      await store.put("u/del/ctr", new CounterLattice([["w", [9, 0]]]));
      assert.equal(((await store.get("u/del/ctr")) as CounterLattice).value, 2);
    });

    it("refuses an unstamped counter delta and writes nothing", async () => {
      await assert.rejects(
        call("rec/delta", record("d"), [["u/delta", CounterLattice.delta(1)]]),
        (e: unknown) => isStratusError(e) && e.code === "INVALID_ARGUMENT",
      );
      assert.equal(await store.get("rec/delta"), undefined);
      assert.equal(await store.get("u/delta"), undefined);
    });

    it("tells subscribers of the key and of every merged key", async () => {
      const got: ChangeEvent[] = [];
      let done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      const sub = await store.subscribe("ev/", (e) => {
        got.push(e);
        if (got.length === 3) done();
      });
      try {
        const merges = [
          ["ev/u/a", new MaxLattice(1)],
          ["ev/u/b", new MaxLattice(2)],
        ] as const;
        assert.equal(await call("ev/rec", record("e"), merges), "stored");
        await all;
        assert.deepEqual(got.map((e) => (e.kind === "put" ? e.key : e.kind)).sort(), [
          "ev/rec",
          "ev/u/a",
          "ev/u/b",
        ]);
      } finally {
        await sub.close();
      }
    });
  });

describe("putIfAbsentThenMerge in the memory store's log", () => {
  it("is one record: a store reopened from the log shows what it showed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stratus-pitm-"));
    const logPath = join(dir, "store.log");
    try {
      const a = await MemoryStore.open({ logPath });
      await a.put("u/old", LwwLattice.of("before", clock.now()));
      const deleteAt = clock.now();
      await a.put("u/newer", LwwLattice.of("written after the delete's time", clock.now()));
      const writes = [
        ["u/a", LwwLattice.of("A", clock.now())],
        ["u/ctr", new CounterLattice([["~slot", [3, 0]]])],
        ["u/old", null, deleteAt],
        ["u/newer", null, deleteAt],
      ] as const;
      assert.equal(await a.putIfAbsentThenMerge("rec/1", record("one"), writes), "stored");
      assert.equal(await a.putIfAbsentThenMerge("rec/1", record("two"), writes), "present");
      const before = a.recovery.records;
      await a.close();
      const b = await MemoryStore.open({ logPath });
      try {
        // Two puts, then the commit as one record (the refused second one logs nothing).
        assert.equal(b.recovery.records - before, 3);
        assert.deepEqual(((await b.get("rec/1")) as LwwLattice).value(), { tag: "one" });
        assert.equal(((await b.get("u/a")) as LwwLattice).value(), "A");
        assert.equal(((await b.get("u/ctr")) as CounterLattice).value, 3);
        assert.equal(await b.get("u/old"), undefined);
        assert.equal(
          ((await b.get("u/newer")) as LwwLattice).value(),
          "written after the delete's time",
        );
      } finally {
        await b.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("putIfAbsentThenMerge on a Redis Cluster", () => {
  const fx = new BackendFixture("redis-cluster");
  let store: Store;

  before(async () => {
    store = await fx.open();
  });
  after(() => fx.teardown());

  it("declines and writes nothing: the caller takes the two steps", async () => {
    const out = await store.putIfAbsentThenMerge?.("rec/c", record("c"), [
      ["u/c", new MaxLattice(1)],
    ]);
    assert.equal(out, undefined);
    assert.equal(await store.get("rec/c"), undefined);
    assert.equal(await store.get("u/c"), undefined);
  });
});

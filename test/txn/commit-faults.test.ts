/**
 * The commit protocol's failure paths (src/txn/commit.ts), each driven by one scripted fault of
 * the in-process FaultyStore over a memory store: the record's putIfAbsent failing before or
 * after it applies, the fence of `resolveUnknown` landing or not, the write-back failing after
 * the commit point, a lost change notification, and an outcome that stays unknown. Every test
 * shows its fault firing (the control) and then that nothing was lost or counted twice.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  CounterLattice,
  HybridClock,
  LwwLattice,
  ZERO_TIMESTAMP,
  decodeValue,
  plainValue,
} from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import { userKey } from "../../src/state/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import { isStratusError } from "../../src/errors/index.js";
import {
  TXN_PREFIX,
  Transaction,
  TxnManager,
  localBackend,
  recordKey,
} from "../../src/txn/index.js";
import type { CommitRequest, CommitWrite } from "../../src/txn/index.js";
import { Committer } from "../../src/txn/commit.js";
import { decodeSlot } from "../../src/txn/record.js";
import { FaultyStore } from "../../testing/faulty-store.js";

const MANUAL = { gcIntervalMs: 0, recoveryIntervalMs: 0 };

/** A manager and a committer of its own over a FaultyStore; the committer's pauses are logged, not waited. */
async function rig(inner?: MemoryStore, node = "a") {
  const base = inner ?? (await MemoryStore.open());
  const store = new FaultyStore(base);
  const clock = new HybridClock({ node });
  const mgr = await TxnManager.start({ store, clock, ...MANUAL });
  const pauses: number[] = [];
  const committer = new Committer(store, clock, mgr, mgr.o, async (i) => void pauses.push(i));
  const request = (tid: string, writes: CommitWrite[]): CommitRequest => ({
    tid,
    epoch: 1,
    start: clock.now(),
    writes,
  });
  return {
    base,
    store,
    clock,
    mgr,
    committer,
    pauses,
    request,
    close: async () => {
      await mgr.close();
      if (inner === undefined) await store.close();
    },
  };
}

const set = (k: string, v: unknown): CommitWrite => [k, 0, LwwLattice.of(v, ZERO_TIMESTAMP)];
const inc = (k: string, n = 1): CommitWrite => [k, 1, CounterLattice.delta(n)];

/** What plain key `k` holds, as a plain reader sees it. */
async function plain(store: { get(k: string): Promise<Lattice | undefined> }, k: string) {
  const l = await store.get(userKey(k));
  if (l === undefined) return undefined;
  return l.kind === "lww" ? decodeValue(l.bytes) : plainValue(l);
}

/** The transactional counter writers a plain counter key holds. */
async function txnWriters(store: MemoryStore, k: string): Promise<string[]> {
  const l = await store.get(userKey(k));
  assert.ok(l instanceof CounterLattice);
  return [...l.entries.keys()].filter((w) => w.startsWith("~"));
}

async function slotKind(store: MemoryStore, tid: string): Promise<string | undefined> {
  const l = await store.get(recordKey(tid, 1));
  return l === undefined ? undefined : decodeSlot(l).kind;
}

const code = (c: string) => (e: unknown) => isStratusError(e) && e.code === c;

describe("commit protocol under injected storage faults", () => {
  it("the record failing before it applies: the fence lands, nothing is written, the slot is reused", async () => {
    const r = await rig();
    const f = r.store.inject({
      ops: "putIfAbsent",
      prefix: TXN_PREFIX,
      fault: "fail-before",
      times: 1,
    });
    await assert.rejects(
      r.committer.commit(r.request("t1", [set("a", "x"), inc("n")])),
      code("TXN_ABORTED"),
    );
    // The control: the fault fired on the record, and the fence took its key.
    assert.equal(f.fired, 1);
    assert.deepEqual(
      r.store.fired().map((x) => [x.op, x.keys[0], x.fault]),
      [["putIfAbsent", recordKey("t1", 1), "fail-before"]],
    );
    assert.equal(await slotKind(r.base, "t1"), "fence");
    assert.equal(await plain(r.base, "a"), undefined);
    assert.equal(await plain(r.base, "n"), undefined);
    assert.equal(r.mgr.index.meta("t1.1"), undefined);
    assert.equal(r.mgr.stats.commits, 0);
    // No harm: the next commit counts from zero on the same (freed, unchanged) slot.
    await r.committer.commit(r.request("t2", [inc("n")]));
    assert.equal(await plain(r.base, "n"), 1);
    assert.equal((await txnWriters(r.base, "n")).length, 1);
    assert.deepEqual(r.pauses, []);
    await r.close();
  });

  it("the record failing after it applies: the fence does not land, and the commit is ours, once", async () => {
    const r = await rig();
    const f = r.store.inject({
      ops: "putIfAbsent",
      prefix: TXN_PREFIX,
      fault: "fail-after",
      times: 1,
    });
    const out = await r.committer.commit(r.request("t1", [set("a", "x"), inc("n")]));
    assert.equal(f.fired, 1);
    assert.equal(r.store.fired()[0]?.fault, "fail-after");
    assert.equal(await slotKind(r.base, "t1"), "record");
    assert.equal(out.rid, "t1.1");
    assert.equal(out.duplicate, false, "its own commit, not an earlier attempt's");
    assert.equal(await plain(r.base, "a"), "x");
    assert.equal(await plain(r.base, "n"), 1);
    assert.ok(r.mgr.index.meta("t1.1"), "known here");
    assert.equal(r.mgr.stats.commits, 1, "counted once, at its commit point");
    // A caller that retries all the same gets the commit back, applied once.
    const again = await r.committer.commit(r.request("t1", [set("a", "x"), inc("n")]));
    assert.equal(again.duplicate, true);
    assert.equal(again.ts, out.ts);
    assert.equal(await plain(r.base, "n"), 1);
    assert.equal(r.mgr.stats.commits, 1);
    await r.close();
  });

  it("storage still failing while it fences: it pauses and fences again until the fence lands", async () => {
    const r = await rig();
    r.store.inject({ ops: "putIfAbsent", prefix: TXN_PREFIX, fault: "fail-before", times: 3 });
    await assert.rejects(r.committer.commit(r.request("t1", [inc("n")])), code("TXN_ABORTED"));
    // The record and two fences failed; the third fence landed after two pauses.
    assert.equal(r.store.fired("putIfAbsent").length, 3);
    assert.deepEqual(r.pauses, [0, 1]);
    assert.equal(await slotKind(r.base, "t1"), "fence");
    assert.equal(await plain(r.base, "n"), undefined);
    await r.close();
  });

  it("an outcome that stays unknown: STORAGE_UNAVAILABLE, the slot is dropped, and no increment is lost", async () => {
    const r = await rig();
    // The record lands but its answer is lost; then every fence fails before it applies.
    r.store.inject({ ops: "putIfAbsent", prefix: TXN_PREFIX, fault: "fail-after", times: 1 });
    r.store.inject({ ops: "putIfAbsent", prefix: TXN_PREFIX, fault: "fail-before", times: 5 });
    await assert.rejects(r.committer.commit(r.request("t1", [inc("n")])), (e: unknown) => {
      assert.ok(isStratusError(e) && e.code === "STORAGE_UNAVAILABLE" && e.retryable);
      assert.equal(e.details?.committed, undefined, "not known to be committed");
      return true;
    });
    assert.deepEqual(
      r.store.fired().map((x) => x.fault),
      ["fail-after", ...Array<string>(5).fill("fail-before")],
    );
    assert.deepEqual(r.pauses, [0, 1, 2, 3, 4]);
    assert.equal(await slotKind(r.base, "t1"), "record", "the unknown commit did land");
    assert.equal(await plain(r.base, "n"), undefined, "but is not written back");
    // Another commit now must not reuse t1's slot: its totals may or may not be stored.
    await r.committer.commit(r.request("t2", [inc("n")]));
    // The caller of t1 commits again (same tid and epoch) and finishes its write-back.
    const again = await r.committer.commit(r.request("t1", [inc("n")]));
    assert.equal(again.rid, "t1.1");
    assert.equal(await plain(r.base, "n"), 2, "both increments count");
    assert.equal((await txnWriters(r.base, "n")).length, 2);
    await r.close();
  });

  for (const fault of ["fail-before", "fail-after"] as const) {
    it(`the write-back failing (${fault}) after the commit point: committed, finished once by a second commit`, async () => {
      const r = await rig();
      const f = r.store.inject({ ops: "put", prefix: userKey("n"), fault, times: 1 });
      const req = r.request("t1", [set("a", "x"), inc("n", 5)]);
      await assert.rejects(r.committer.commit(req), (e: unknown) => {
        assert.ok(isStratusError(e) && e.code === "STORAGE_UNAVAILABLE" && e.retryable);
        assert.equal(e.details?.committed, true);
        return true;
      });
      assert.equal(f.fired, 1);
      assert.equal(await slotKind(r.base, "t1"), "record", "past the commit point");
      assert.equal(await plain(r.base, "a"), "x", "the other key was written back");
      assert.equal(await plain(r.base, "n"), fault === "fail-after" ? 5 : undefined);
      assert.equal(r.mgr.stats.commits, 1);
      // The second commit of the same request finishes the write-back; a third changes nothing.
      for (let i = 0; i < 2; i++) {
        const out = await r.committer.commit(req);
        assert.equal(out.duplicate, true);
        assert.equal(await plain(r.base, "n"), 5);
      }
      assert.equal(r.mgr.stats.commits, 1, "counted once");
      // And the counter's slot goes on from the committed totals.
      await r.committer.commit(r.request("t2", [inc("n")]));
      assert.equal(await plain(r.base, "n"), 6);
      assert.equal((await txnWriters(r.base, "n")).length, 1);
      await r.close();
    });
  }

  it("an unknown outcome resolved as ours, then a failed write-back: the slot is released once", async () => {
    const r = await rig();
    r.store.inject({ ops: "putIfAbsent", prefix: TXN_PREFIX, fault: "fail-after", times: 1 });
    const wb = r.store.inject({ ops: "put", prefix: userKey("n"), fault: "fail-before", times: 1 });
    await r.committer.commit(r.request("t1", [inc("n")])).catch((e: unknown) => {
      // Either finished here or left to the caller's next commit; committed in both cases.
      assert.ok(isStratusError(e) && e.details?.committed === true, String(e));
      return r.committer.commit(r.request("t1", [inc("n")]));
    });
    assert.equal(wb.fired, 1);
    assert.equal(await plain(r.base, "n"), 1);
    // Two commits in flight at once, both stamped before either lands: each needs a slot of its
    // own. (A slot released twice would be handed to both, and one increment would be lost.)
    const both = barrier(2);
    r.store.inject({ ops: "putIfAbsent", prefix: TXN_PREFIX, fault: "pass", delay: both });
    await Promise.all([
      r.committer.commit(r.request("t2", [inc("n")])),
      r.committer.commit(r.request("t3", [inc("n")])),
    ]);
    assert.equal(await plain(r.base, "n"), 3);
    await r.close();
  });

  it("a lost change notification: the other manager reads the value all the same, and learns the commit on recovery", async () => {
    const a = await rig();
    const b = await rig(a.base, "b");
    const drop = b.store.inject({ ops: "notify", prefix: TXN_PREFIX, fault: "drop" });
    const out = await a.committer.commit(a.request("t1", [set("acct", 90)]));
    await b.mgr.sync();
    // The control: b's notification was dropped, so b does not know the commit.
    assert.equal(drop.fired, 1);
    assert.equal(b.mgr.index.meta("t1.1"), undefined);
    // No harm to readers: the write-back put the value where every reader looks.
    const tx = await Transaction.begin(localBackend(b.mgr, b.clock));
    const read = await tx.read("acct");
    assert.equal(read === undefined ? undefined : decodeValue(read.bytes), 90);
    await tx.abort();
    // The change stream reconnects (a reset): b rescans and learns the commit.
    drop.remove();
    await b.store.reset();
    await b.mgr.known(out.rid ?? "");
    assert.equal(b.mgr.index.meta("t1.1")?.ts, out.ts);
    assert.equal(b.mgr.stats.recovered, 1);
    await b.close();
    await a.close();
  });

  it("under any interleaving and any faults, every increment counts exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 4 }),
        fc.array(
          fc.record({
            ops: fc.constantFrom("putIfAbsent" as const, "put" as const, "get" as const),
            fault: fc.constantFrom("fail-before" as const, "fail-after" as const),
            skip: fc.nat(6),
          }),
          { maxLength: 4 },
        ),
        async (s, n, faults) => {
          const r = await rig();
          for (const f of faults) r.store.inject({ ...f, times: 1 });
          r.store.inject({
            ops: ["get", "put", "putIfAbsent"],
            fault: "pass",
            delay: (c) => s.schedule(Promise.resolve(), `${c.op} ${c.keys[0] ?? ""}`),
          });
          // Each increment is a client that commits again on STORAGE_UNAVAILABLE (same tid)
          // and starts over with a new tid when nothing was written.
          const client = async (i: number): Promise<void> => {
            for (let attempt = 0; ; attempt++) {
              const tid = `c${i}a${attempt}`;
              for (;;) {
                try {
                  await r.committer.commit(r.request(tid, [inc("n"), set(`k${i}`, i)]));
                  return;
                } catch (e) {
                  if (isStratusError(e) && e.code === "STORAGE_UNAVAILABLE") continue;
                  // Nothing was written: TXN_FENCED when the answer to its own fence was lost.
                  if (isStratusError(e) && (e.code === "TXN_ABORTED" || e.code === "TXN_FENCED"))
                    break;
                  throw e;
                }
              }
            }
          };
          const wave = (from: number) =>
            s.waitFor(Promise.all(Array.from({ length: n }, (_, i) => client(from + i))));
          await wave(0);
          assert.equal(await plain(r.base, "n"), n);
          // A second wave with the faults spent: the slots the first left must each serve one
          // commit in flight at a time.
          await wave(n);
          assert.equal(await plain(r.base, "n"), 2 * n);
          for (let i = 0; i < 2 * n; i++) assert.equal(await plain(r.base, `k${i}`), i);
          await r.close();
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** A delay that holds each call until `n` calls are held, then lets them all go. */
function barrier(n: number): () => Promise<void> {
  let release!: () => void;
  const open = new Promise<void>((r) => (release = r));
  let waiting = 0;
  return () => {
    if (++waiting >= n) release();
    return open;
  };
}

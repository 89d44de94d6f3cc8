/**
 * The one-step commit on one Redis server (the record and its write-back in one script) when its
 * outcome is unknown: the server is frozen while the script is in flight, so the commit times out
 * with the script still queued. Whatever the committer then learns, the run commits once and
 * every increment counts once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CounterLattice,
  HybridClock,
  LwwLattice,
  ZERO_TIMESTAMP,
} from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import { userKey } from "../../src/state/index.js";
import { RedisStore } from "../../src/storage/index.js";
import { isStratusError } from "../../src/errors/index.js";
import { TxnManager, recordKey } from "../../src/txn/index.js";
import type { CommitRequest, CommitWrite } from "../../src/txn/index.js";
import { Committer } from "../../src/txn/commit.js";
import { decodeSlot } from "../../src/txn/record.js";
import { RedisServer } from "../../testing/redis.js";

const inc = (k: string, n = 1): CommitWrite => [k, 1, CounterLattice.delta(n)];
const set = (k: string, v: unknown): CommitWrite => [k, 0, LwwLattice.of(v, ZERO_TIMESTAMP)];

async function counter(store: RedisStore, k: string): Promise<number | undefined> {
  const l: Lattice | undefined = await store.get(userKey(k));
  return l === undefined ? undefined : (l as CounterLattice).value;
}

describe("one-step commit on Redis with an unknown outcome", () => {
  let server: RedisServer;
  let store: RedisStore;
  let mgr: TxnManager;
  const clock = new HybridClock({ node: "one-step" });

  before(async () => {
    server = await RedisServer.start();
    store = await RedisStore.connect({ url: server.url, opTimeoutMs: 300 });
    mgr = await TxnManager.start({ store, clock, gcIntervalMs: 0, recoveryIntervalMs: 0 });
  });
  after(async () => {
    await mgr.close();
    await store.close();
    await server.stop();
  });

  const request = (tid: string, writes: CommitWrite[]): CommitRequest => ({
    tid,
    epoch: 1,
    start: clock.now(),
    writes,
    result: new Uint8Array([7]),
    always: true,
  });

  it("the script runs once the server thaws: the fence finds the record, the commit is ours", async () => {
    const pauses: number[] = [];
    // The first pause between fences thaws the server: the queued script runs before the fence.
    const committer = new Committer(store, clock, mgr, mgr.o, async (i) => {
      pauses.push(i);
      server.resume();
    });
    // The script cached, the keys' kinds known (a new committer reads them once).
    await committer.commit(request("warm", [inc("n"), set("a", "w")]));
    assert.equal(await counter(store, "n"), 1);

    server.pause();
    const out = await committer.commit(request("t1", [inc("n"), set("a", "x")]));
    assert.ok(pauses.length > 0, "the commit timed out and fenced (the control)");
    assert.equal(out.duplicate, false, "the record found is this commit's own");
    assert.equal(await counter(store, "n"), 2);
    const l = await store.get(recordKey("t1", 1));
    assert.equal(l === undefined ? undefined : decodeSlot(l).kind, "record");

    // The same request again: its recorded result, and nothing counted twice.
    const again = await committer.commit(request("t1", [inc("n"), set("a", "x")]));
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.result, new Uint8Array([7]));
    assert.equal(await counter(store, "n"), 2);
    // The slot was released once: a later commit counts once.
    await committer.commit(request("t2", [inc("n")]));
    assert.equal(await counter(store, "n"), 3);
  });

  it("an outcome that stays unknown: STORAGE_UNAVAILABLE, then a retry commits once", async () => {
    const committer = new Committer(store, clock, mgr, mgr.o, async () => undefined);
    await committer.commit(request("warm2", [inc("n")]));
    const before = await counter(store, "n");
    server.pause();
    await assert.rejects(
      committer.commit(request("t3", [inc("n")])),
      (e: unknown) => isStratusError(e) && e.code === "STORAGE_UNAVAILABLE",
    );
    server.resume();
    // The queued script ran when the server thawed; the retry finds its record.
    const again = await committer.commit(request("t3", [inc("n")]));
    assert.equal(again.duplicate, true);
    assert.equal(await counter(store, "n"), (before ?? 0) + 1);
    await committer.commit(request("t4", [inc("n")]));
    assert.equal(await counter(store, "n"), (before ?? 0) + 2);
  });
});

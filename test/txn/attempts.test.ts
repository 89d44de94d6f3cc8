/**
 * Attempts of one exactly-once request: a first attempt starts at epoch 1 without touching
 * storage, a marked retry fences what came before, and whatever order they commit in, the
 * request commits once and every attempt answers with that commit's result.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HybridClock, decodeValue, encodeValue } from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import {
  RunTransactionService,
  TXN_PREFIX,
  TXN_SESSION_KEY,
  TxnFencedError,
  TxnManager,
  localBackend,
  tidForRequest,
} from "../../src/txn/index.js";
import type { CarriedTxn } from "../../src/txn/index.js";

describe("attempts of an exactly-once request", () => {
  let store: Store;
  let mgr: TxnManager;
  let svc: RunTransactionService;
  const clock = new HybridClock({ node: "s" });
  before(async () => {
    store = await MemoryStore.open();
    mgr = await TxnManager.start({ store, clock, gcIntervalMs: 0, recoveryIntervalMs: 0 });
    svc = new RunTransactionService(mgr, clock);
  });
  after(async () => {
    await mgr.close();
    await store.close();
  });

  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const k of store.scan(TXN_PREFIX)) out.push(k);
    return out.sort();
  };
  async function start(req: string, retry: boolean): Promise<CarriedTxn> {
    const s = await svc.begin(req, "dag", retry);
    assert.ok("session" in s, "expected a new attempt");
    return s.session[TXN_SESSION_KEY] as CarriedTxn;
  }
  /** Commits attempt `c` as a run's sink does: one write, its result, always a record. */
  function commit(c: CarriedTxn, result: string) {
    return localBackend(mgr, clock).commit({
      tid: c.id,
      epoch: c.e,
      start: c.s,
      writes: [[`k/${c.id}`, 0, null]],
      result: encodeValue(result),
      always: true,
    });
  }

  it("a first attempt starts at epoch 1 and writes nothing to storage", async () => {
    const c = await start("req-a", false);
    assert.equal(c.id, tidForRequest("req-a"));
    assert.equal(c.e, 1);
    assert.deepEqual(await keys(), []);
    // Control: a marked retry fences epoch 1 (one key) and runs at epoch 2.
    const r = await start("req-a", true);
    assert.equal(r.e, 2);
    assert.deepEqual(await keys(), [`${TXN_PREFIX}${c.id}.1`]);
  });

  it("two unmarked attempts of one request commit once; the second gets the first's result", async () => {
    const a = await start("req-b", false);
    const b = await start("req-b", false);
    const first = await commit(a, "A");
    const second = await commit(b, "B");
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(decodeValue(second.result as Uint8Array), "A");
  });

  it("a late first attempt after a retry: fenced until the retry commits, then the retry's result", async () => {
    const late = await start("req-c", false);
    const retry = await start("req-c", true);
    assert.equal(retry.e, 2);
    await assert.rejects(commit(late, "late"), TxnFencedError);
    await commit(retry, "R");
    const after = await commit(late, "late");
    assert.equal(after.duplicate, true);
    assert.equal(decodeValue(after.result as Uint8Array), "R");
    // A retry after the commit finds it and runs nothing.
    const again = await svc.begin("req-c", "dag", true);
    assert.ok("result" in again);
    assert.equal(decodeValue(again.result), "R");
  });

  it("a retry after the first attempt committed returns its result", async () => {
    await commit(await start("req-d", false), "D");
    const again = await svc.begin("req-d", "dag", true);
    assert.ok("result" in again);
    assert.equal(decodeValue(again.result), "D");
  });
});

/**
 * One state under every level (issue 17): a key holds one lattice whichever API writes it.
 * Transactions' merges compose with every other committed write; what a transaction commits is
 * what plain reads return next; a transaction reads the plain writes that came before it. On
 * every backend, with managers on two "nodes" (two clients of one store).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { CounterLattice } from "../../src/lattice/index.js";
import {
  HybridClock,
  decodeValue,
  encodeLattice,
  encodeValue,
  lattices,
} from "../../src/lattice/index.js";
import { UserState } from "../../src/state/index.js";
import { Transaction, TxnManager, localBackend } from "../../src/txn/index.js";
import { BACKENDS, BackendFixture } from "../../testing/backends.js";

async function two(fx: BackendFixture) {
  const stores = [await fx.open(), await fx.open()];
  const clocks = [new HybridClock({ node: "a" }), new HybridClock({ node: "b" })];
  const opts = { gcIntervalMs: 0, recoveryIntervalMs: 0 };
  const mgrs = await Promise.all(
    stores.map((store, i) => TxnManager.start({ store, clock: clocks[i]!, ...opts })),
  );
  return {
    mgrs,
    plain: stores.map((s, i) => new UserState(s, clocks[i]!)),
    tx: (i: number) => Transaction.begin(localBackend(mgrs[i]!, clocks[i]!)),
    close: async () => {
      for (const m of mgrs) await m.close();
    },
  };
}

async function plainValue(state: UserState, key: string): Promise<unknown> {
  const r = await state.read(key);
  return r === undefined ? undefined : decodeValue(r.bytes);
}

async function txValue(tx: Transaction, key: string): Promise<unknown> {
  const r = await tx.read(key);
  return r === undefined ? undefined : decodeValue(r.bytes);
}

for (const backend of BACKENDS) {
  describe(`one state on ${backend}`, () => {
    const fx = new BackendFixture(backend);
    after(() => fx.teardown());

    it("concurrent transactional merges into one counter all count (none applied to a stale read)", async () => {
      const s = await two(fx);
      const key = `cnt/${Date.now()}`;
      // Each reads the counter first (so each has a stale view of it), then merges 1 into it and
      // into a second counter; half on each node, all at once.
      const txs = await Promise.all(Array.from({ length: 40 }, (_, i) => s.tx(i % 2)));
      await Promise.all(txs.map((t) => t.read(key)));
      for (const t of txs) {
        t.mergeLattice(key, lattices.counter(1));
        t.mergeLattice(`${key}/b`, lattices.counter(1));
      }
      await Promise.all(txs.map((t) => t.commit()));
      // Plain reads, on both nodes, and a transactional read agree: 40 each.
      for (const p of s.plain) {
        assert.equal(await plainValue(p, key), 40);
        assert.equal(await plainValue(p, `${key}/b`), 40);
      }
      const r = await s.tx(1);
      assert.deepEqual([await txValue(r, key), await txValue(r, `${key}/b`)], [40, 40]);
      // A counter gains an entry per commit in flight at once, not per transaction.
      const l = (await s.mgrs[0]!.base(key)) as CounterLattice;
      assert.ok(l.entries.size <= 40, `${l.entries.size} writers`);
      await s.close();
    });

    it("a commit is what plain reads return next, on every node, as soon as commit returns", async () => {
      const s = await two(fx);
      const t = await s.tx(0);
      t.putBytes("os/a", encodeValue("A"));
      t.mergeLattice("os/tags", lattices.set(["x"]));
      await t.commit();
      for (const p of s.plain) {
        assert.equal(await plainValue(p, "os/a"), "A");
        assert.deepEqual(await plainValue(p, "os/tags"), ["x"]);
      }
      await s.close();
    });

    it("a transaction reads the plain writes that completed before it began, also after transactions wrote the key", async () => {
      const s = await two(fx);
      const t = await s.tx(0);
      t.putBytes("os/p", encodeValue(1));
      await t.commit();
      // A plain write after the commit: later transactions read it, not the committed version.
      await s.plain[1]!.put("os/p", encodeValue(2));
      await s.plain[1]!.merge("os/c", encodeLattice(lattices.counter(5)));
      const r = await s.tx(0);
      assert.equal(await txValue(r, "os/p"), 2);
      assert.equal(await txValue(r, "os/c"), 5);
      // And merges compose across the two kinds of writer.
      const w = await s.tx(1);
      w.mergeLattice("os/c", lattices.counter(1));
      await w.commit();
      await s.plain[0]!.merge("os/c", encodeLattice(lattices.counter(1)));
      assert.equal(await plainValue(s.plain[1]!, "os/c"), 7);
      assert.equal(await txValue(await s.tx(0), "os/c"), 7);
      await s.close();
    });

    it("a transaction that writes another kind into a key is refused before it commits", async () => {
      const s = await two(fx);
      await s.plain[0]!.put("os/kind", encodeValue("text"));
      const t = await s.tx(1);
      t.mergeLattice("os/kind", lattices.counter(1));
      t.putBytes("os/other", encodeValue(1));
      await assert.rejects(t.commit(), { code: "LATTICE_TYPE_MISMATCH" });
      // Nothing of it is visible.
      assert.equal(await plainValue(s.plain[0]!, "os/other"), undefined);
      await s.close();
    });

    it("a transaction's delete removes the key for plain readers, and a later write wins over it", async () => {
      const s = await two(fx);
      await s.plain[0]!.put("os/d", encodeValue("x"));
      const t = await s.tx(1);
      t.delete("os/d");
      await t.commit();
      assert.equal(await plainValue(s.plain[0]!, "os/d"), undefined);
      await s.plain[0]!.put("os/d", encodeValue("y"));
      assert.equal(await txValue(await s.tx(1), "os/d"), "y");
      await s.close();
    });
  });
}

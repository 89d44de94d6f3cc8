/**
 * One contract, three backends: memory, Redis standalone and Redis Cluster all run this suite.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { isStratusError } from "../../src/errors/index.js";
import {
  CausalLattice,
  CounterLattice,
  HybridClock,
  LwwLattice,
  MapLattice,
  MaxLattice,
  SetLattice,
  VectorClock,
  isAbsent,
  latticeEquals,
  mergeLattices,
} from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import type { ChangeEvent, Store } from "../../src/storage/index.js";
import { byKind } from "../lattice/arbitraries.js";
import { BACKENDS, BackendFixture } from "../../testing/backends.js";
import type { BackendName } from "../../testing/backends.js";

function hasCode(code: string) {
  return (e: unknown): boolean => isStratusError(e) && e.code === code;
}

/** Resolves with the first `n` events that match `pred`, in arrival order. */
function collect(
  store: Store,
  prefix: string,
  n: number,
  pred: (e: ChangeEvent) => boolean = () => true,
): Promise<{ events: Promise<ChangeEvent[]>; close: () => Promise<void> }> {
  const got: ChangeEvent[] = [];
  let done!: (v: ChangeEvent[]) => void;
  let timer: NodeJS.Timeout | undefined;
  // A lost notification must fail the test with a reason, not hang the suite.
  const events = new Promise<ChangeEvent[]>((resolve, reject) => {
    done = (v) => {
      clearTimeout(timer);
      resolve(v);
    };
    timer = setTimeout(
      () =>
        reject(new Error(`only ${got.length} of ${n} change events under ${prefix} within 15 s`)),
      15_000,
    );
  });
  events.catch(() => undefined);
  return store
    .subscribe(prefix, (e) => {
      if (!pred(e)) return;
      got.push(e);
      if (got.length === n) done([...got]);
    })
    .then((sub) => ({ events, close: () => sub.close() }));
}

/** Every backend, and the memory store with its log (whose writes wait for the disk). */
const ALL: readonly BackendName[] = [...BACKENDS, "memory-log"];

/** A counter as another store instance stamps it: `writer` has added `n` in all. */
function totals(writer: string, n: number): CounterLattice {
  return new CounterLattice([[writer, [n, 0]]]);
}

/** True when a read shows `want`: equal to it, or nothing when it is absent (a deleted counter). */
function shows(got: Lattice | undefined, want: Lattice): boolean {
  if (isAbsent(want)) return got === undefined;
  return got !== undefined && latticeEquals(got, want);
}

function counterValue(l: Lattice | undefined): number | undefined {
  return l === undefined ? undefined : (l as CounterLattice).value;
}

for (const backend of ALL) {
  describe(`storage conformance: ${backend}`, () => {
    const fx = new BackendFixture(backend);
    let store: Store;
    const clock = new HybridClock({ node: "conformance" });

    before(async () => {
      store = await fx.open();
    });
    after(() => fx.teardown());

    it("reads nothing for a missing key", async () => {
      assert.equal(await store.get("missing"), undefined);
      assert.deepEqual(await store.getMany(["missing", "also-missing"]), [undefined, undefined]);
    });

    it("stores and returns every lattice kind, and merges a second write", async () => {
      for (const [kind, arb] of Object.entries(byKind)) {
        const samples = fc.sample(fc.tuple(arb, arb), { numRuns: 8, seed: 42 });
        for (const [i, [a, b]] of samples.entries()) {
          const key = `kinds/${kind}/${i}`;
          await store.put(key, a);
          assert.ok(shows(await store.get(key), a), `${kind} round trip`);
          await store.put(key, b);
          assert.ok(shows(await store.get(key), mergeLattices(a, b)), `${kind} merge`);
        }
      }
    });

    it("getMany returns values in the order asked; putMany writes them all", async () => {
      await store.putMany([
        ["many/a", new MaxLattice(1)],
        ["many/b", new MaxLattice(2)],
        ["many/c", new MaxLattice(3)],
      ]);
      const got = await store.getMany(["many/c", "many/x", "many/a"]);
      assert.deepEqual(
        got.map((l) => (l as MaxLattice | undefined)?.value),
        [3, undefined, 1],
      );
    });

    it("putIfAbsent stores once and never overwrites", async () => {
      assert.equal(await store.putIfAbsent("pia", LwwLattice.of("first", clock.now())), true);
      assert.equal(await store.putIfAbsent("pia", LwwLattice.of("second", clock.now())), false);
      assert.equal(((await store.get("pia")) as LwwLattice).value(), "first");
    });

    it("deletes keys", async () => {
      await store.put("del/x", new MaxLattice(1));
      await store.delete("del/x");
      assert.equal(await store.get("del/x"), undefined);
      await store.delete("del/never-existed");
    });

    it("scans by prefix, including prefixes with glob characters", async () => {
      const keys = ["scan/a*b?/1", "scan/a*b?/2", "scan/axb!/3", "scan/other"];
      for (const k of keys) await store.put(k, new MaxLattice(1));
      const found: string[] = [];
      for await (const k of store.scan("scan/a*b?/")) found.push(k);
      assert.deepEqual(found.sort(), ["scan/a*b?/1", "scan/a*b?/2"]);
      const all: string[] = [];
      for await (const k of store.scan("scan/")) all.push(k);
      assert.equal(all.length, 4);
    });

    it("notifies subscribers of changes under their prefix only", async () => {
      const c = await collect(store, "sub/watched/", 2, (e) => e.kind !== "reset");
      await store.put("sub/other/x", new MaxLattice(1));
      await store.put("sub/watched/a", new MaxLattice(1));
      await store.delete("sub/watched/a");
      const events = await c.events;
      await c.close();
      assert.deepEqual(events, [
        { kind: "put", key: "sub/watched/a" },
        { kind: "delete", key: "sub/watched/a" },
      ]);
    });

    it("reports no change for a merge that changes nothing", async () => {
      await store.put("noop/k", new MaxLattice(10));
      const c = await collect(store, "noop/", 1, (e) => e.kind !== "reset");
      await store.put("noop/k", new MaxLattice(3)); // absorbed: no event
      await store.put("noop/k", new MaxLattice(11)); // a real change
      const [first] = await c.events;
      await c.close();
      assert.deepEqual(first, { kind: "put", key: "noop/k" });
      assert.equal(((await store.get("noop/k")) as MaxLattice).value, 11);
    });

    it("a second client sees the first client's writes and changes", async () => {
      const other = await fx.open();
      const c = await collect(other, "x-client/", 1, (e) => e.kind !== "reset");
      await store.put("x-client/k", SetLattice.of(["hello"]));
      assert.deepEqual(await c.events, [{ kind: "put", key: "x-client/k" }]);
      await c.close();
      assert.deepEqual(((await other.get("x-client/k")) as SetLattice).values(), ["hello"]);
    });

    it("rejects a merge of another lattice type and leaves the value unchanged", async () => {
      await store.put("mismatch/k", new MaxLattice(5));
      await assert.rejects(store.put("mismatch/k", SetLattice.of([1])), (e: unknown) => {
        assert.ok(isStratusError(e));
        assert.equal(e.code, "LATTICE_TYPE_MISMATCH");
        assert.equal(e.details?.["stored"], "max");
        assert.equal(e.details?.["incoming"], "set");
        assert.equal(e.details?.["key"], "mismatch/k");
        return true;
      });
      assert.equal(((await store.get("mismatch/k")) as MaxLattice).value, 5);

      const doc = MapLattice.of({ a: new MaxLattice(1), b: SetLattice.of(["x"]) });
      await store.put("mismatch/doc", doc);
      const bad = MapLattice.of({ a: new MaxLattice(9), b: new MaxLattice(2) });
      await assert.rejects(store.put("mismatch/doc", bad), (e: unknown) => {
        assert.ok(hasCode("LATTICE_TYPE_MISMATCH")(e));
        assert.equal((e as { details: Record<string, unknown> }).details["key"], "mismatch/doc/b");
        return true;
      });
      const after = (await store.get("mismatch/doc")) as Lattice;
      assert.ok(latticeEquals(after, doc), "no part of a rejected map merge is applied");
    });

    it("rejects bad keys and oversize values with typed errors", async () => {
      const small = await fx.open({ limits: { maxKeyBytes: 16, maxValueBytes: 1024 } });
      await assert.rejects(small.get(""), hasCode("INVALID_KEY"));
      await assert.rejects(small.put("", new MaxLattice(1)), hasCode("INVALID_KEY"));
      await assert.rejects(small.get("k".repeat(17)), hasCode("INVALID_KEY"));
      await assert.rejects(small.put("é".repeat(9), new MaxLattice(1)), hasCode("INVALID_KEY"));
      await assert.rejects(small.get(42 as unknown as string), hasCode("INVALID_KEY"));
      await assert.rejects(
        small.put("big", LwwLattice.of("x".repeat(2000), clock.now())),
        hasCode("VALUE_TOO_LARGE"),
      );
      await assert.rejects(
        small.put("big", SetLattice.of(Array.from({ length: 300 }, (_, i) => i))),
        hasCode("VALUE_TOO_LARGE"),
      );
      await assert.rejects(
        small.put("notlattice", { kind: "max", value: 1 } as unknown as Lattice),
        hasCode("INVALID_ARGUMENT"),
      );
      assert.equal(await small.get("big"), undefined, "nothing was stored");
      await small.put("ok", new MaxLattice(1));
    });

    it("8 concurrent clients x 5,000 merges on shared keys lose nothing", async () => {
      const clients =
        backend === "memory"
          ? Array.from({ length: 8 }, () => store)
          : await Promise.all(Array.from({ length: 8 }, () => fx.open()));
      const perClient = 5000;
      const keys = ["conc/lww", "conc/set", "conc/max", "conc/map", "conc/causal"];
      const writes = clients.map((_, c) => {
        const ck = new HybridClock({ node: `client-${c}` });
        const out: [string, Lattice][] = [];
        for (let i = 0; i < perClient; i++) {
          switch (i % 5) {
            case 0:
              out.push(["conc/lww", LwwLattice.of({ c, i }, ck.now())]);
              break;
            case 1:
              out.push(["conc/set", SetLattice.of([`${c}:${i}`])]);
              break;
            case 2:
              out.push(["conc/max", new MaxLattice(c * perClient + i)]);
              break;
            case 3:
              out.push([
                "conc/map",
                MapLattice.of({ [`c${c}`]: new MaxLattice(i), all: SetLattice.of([i % 50]) }),
              ]);
              break;
            default:
              out.push(["conc/causal", CausalLattice.of(i, VectorClock.of({ [`c${c}`]: i }))]);
          }
        }
        return out;
      });
      // Each client keeps 64 merges in flight: the interleaving on the server is arbitrary.
      await Promise.all(
        clients.map(async (client, c) => {
          const mine = writes[c] as [string, Lattice][];
          let next = 0;
          const lanes = Array.from({ length: 64 }, async () => {
            while (next < mine.length) {
              const [k, v] = mine[next++] as [string, Lattice];
              await client.put(k, v);
            }
          });
          await Promise.all(lanes);
        }),
      );
      const model = new Map<string, Lattice>();
      for (const [k, v] of writes.flat()) {
        const cur = model.get(k);
        model.set(k, cur === undefined ? v : mergeLattices(cur, v));
      }
      const stored = await store.getMany(keys);
      for (const [i, k] of keys.entries()) {
        const s = stored[i];
        const m = model.get(k) as Lattice;
        assert.ok(
          s !== undefined && latticeEquals(s, m),
          `${k} equals the model merge of all writes`,
        );
      }
      assert.equal((stored[1] as SetLattice).size, 8 * 1000);
      assert.equal((stored[4] as CausalLattice).versions.length, 8, "one sibling per client");
    });

    it("putIfAbsent is atomic: of many concurrent callers exactly one stores", async () => {
      const clients =
        backend === "memory" || backend === "memory-log"
          ? [store]
          : [store, ...(await Promise.all(Array.from({ length: 3 }, () => fx.open())))];
      const values: [string, (i: number) => Lattice][] = [
        ["lww", (i) => LwwLattice.of(`caller-${i}`, clock.now())],
        ["max", (i) => new MaxLattice(i)],
        ["set", (i) => SetLattice.of([i])],
        ["counter", (i) => CounterLattice.delta(i + 1)],
      ];
      for (const [kind, make] of values) {
        for (let round = 0; round < 5; round++) {
          const key = `pia-race/${kind}/${round}`;
          const offered = Array.from({ length: 24 }, (_, i) => make(i));
          const won = await Promise.all(
            offered.map((v, i) => (clients[i % clients.length] as Store).putIfAbsent(key, v)),
          );
          const winners = won.flatMap((w, i) => (w ? [i] : []));
          assert.equal(
            winners.length,
            1,
            `${key}: exactly one caller stored (got ${winners.join(", ")})`,
          );
          const stored = await store.get(key);
          const winner = offered[winners[0] as number] as Lattice;
          if (kind === "counter") {
            assert.equal(counterValue(stored), (winner as CounterLattice).value, key);
          } else {
            assert.ok(
              stored !== undefined && latticeEquals(stored, winner),
              `${key} holds the winner`,
            );
          }
        }
      }
    });

    it("concurrent merges of one key all land, also while earlier ones are still being written", async () => {
      const n = 64;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          Promise.all([
            store.put("merge-race/set", SetLattice.of([i])),
            store.put("merge-race/counter", CounterLattice.delta(1)),
            store.put("merge-race/map", MapLattice.of({ [`f${i}`]: new MaxLattice(i) })),
          ]),
        ),
      );
      assert.equal(((await store.get("merge-race/set")) as SetLattice).size, n);
      assert.equal(counterValue(await store.get("merge-race/counter")), n);
      assert.equal(((await store.get("merge-race/map")) as MapLattice).size, n);
    });

    it("a counter deleted through another store instance stays deleted (5 increments, delete, 1)", async () => {
      const other = await fx.open();
      for (let i = 0; i < 5; i++) await store.put("ctr-del/a", CounterLattice.delta(1));
      assert.equal(counterValue(await store.get("ctr-del/a")), 5);
      await other.delete("ctr-del/a");
      assert.equal(await store.get("ctr-del/a"), undefined, "a deleted counter reads as absent");
      await store.put("ctr-del/a", CounterLattice.delta(1));
      assert.equal(counterValue(await store.get("ctr-del/a")), 1);
      assert.equal(counterValue(await other.get("ctr-del/a")), 1);
      await other.put("ctr-del/a", CounterLattice.delta(2));
      assert.equal(counterValue(await store.get("ctr-del/a")), 3);
    });

    it("a write carrying a writer's totals from before a delete counts only what came after", async () => {
      await store.put("ctr-stale/a", totals("stale-writer", 5));
      await store.put("ctr-stale/a", totals("other-writer", 2));
      await store.delete("ctr-stale/a");
      assert.equal(await store.get("ctr-stale/a"), undefined);
      assert.deepEqual(await store.getMany(["ctr-stale/a"]), [undefined]);
      // Replays and totals at or below what was deleted change nothing.
      await store.put("ctr-stale/a", totals("stale-writer", 5));
      await store.put("ctr-stale/a", totals("other-writer", 1));
      assert.equal(await store.get("ctr-stale/a"), undefined, "old totals do not revive it");
      await store.put("ctr-stale/a", totals("stale-writer", 6));
      assert.equal(counterValue(await store.get("ctr-stale/a")), 1);
      // Deleted again, and a decrement from before the first delete's totals.
      await store.delete("ctr-stale/a");
      await store.put("ctr-stale/a", new CounterLattice([["other-writer", [2, 3]]]));
      assert.equal(counterValue(await store.get("ctr-stale/a")), -3);
    });

    it("a deleted counter is an absent key to every other write", async () => {
      await store.put("ctr-absent/a", totals("w", 5));
      await store.delete("ctr-absent/a");
      // Another kind is written as into an absent key, not refused as a type mismatch.
      await store.put("ctr-absent/a", new MaxLattice(7));
      assert.equal(((await store.get("ctr-absent/a")) as MaxLattice).value, 7);

      await store.put("ctr-absent/b", totals("w", 5));
      await store.delete("ctr-absent/b");
      assert.equal(await store.putIfAbsent("ctr-absent/b", totals("w", 9)), true);
      assert.equal(counterValue(await store.get("ctr-absent/b")), 4, "counted from the delete");
      assert.equal(await store.putIfAbsent("ctr-absent/b", totals("w", 12)), false);

      await store.put("ctr-absent/c", totals("w", 5));
      await store.delete("ctr-absent/c");
      assert.equal(await store.putIfAbsent("ctr-absent/c", SetLattice.of(["x"])), true);
      assert.deepEqual(((await store.get("ctr-absent/c")) as SetLattice).values(), ["x"]);
    });

    it("a deleted map keeps its counters deleted and drops every other field", async () => {
      const doc = MapLattice.of({
        visits: totals("w", 5),
        name: LwwLattice.of("Ada", clock.now()),
        inner: MapLattice.of({ clicks: totals("w", 3), best: new MaxLattice(9) }),
      });
      await store.put("ctr-map/doc", doc);
      await store.delete("ctr-map/doc");
      assert.equal(await store.get("ctr-map/doc"), undefined);
      await store.put("ctr-map/doc", MapLattice.of({ visits: totals("w", 6) }));
      const after = (await store.get("ctr-map/doc")) as MapLattice;
      assert.equal(counterValue(after.get("visits")), 1);
      assert.equal(after.get("name"), undefined, "the deleted LWW field stays gone");
      const inner = after.get("inner") as MapLattice | undefined;
      assert.equal(inner?.get("best"), undefined, "the nested max field is gone");
      assert.equal(counterValue(inner?.get("clicks")), 0);
      await store.put(
        "ctr-map/doc",
        MapLattice.of({ inner: MapLattice.of({ clicks: totals("w", 4) }) }),
      );
      const again = (await store.get("ctr-map/doc")) as MapLattice;
      assert.equal(counterValue((again.get("inner") as MapLattice).get("clicks")), 1);
      // A map with no counters is simply removed.
      await store.put("ctr-map/plain", MapLattice.of({ a: new MaxLattice(1) }));
      await store.delete("ctr-map/plain");
      await store.put("ctr-map/plain", MapLattice.of({ b: new MaxLattice(2) }));
      assert.deepEqual(
        [...((await store.get("ctr-map/plain")) as MapLattice).entries.keys()],
        ["b"],
      );
    });

    it("throws CLOSED after close", async () => {
      const s = await fx.open();
      await s.close();
      await assert.rejects(s.get("k"), hasCode("CLOSED"));
      await assert.rejects(s.put("k", new MaxLattice(1)), hasCode("CLOSED"));
    });
  });
}

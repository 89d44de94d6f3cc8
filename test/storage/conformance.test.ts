/**
 * One contract, three backends: memory, Redis standalone and Redis Cluster all run this suite.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { isStratusError } from "../../src/errors/index.js";
import {
  CausalLattice,
  HybridClock,
  LwwLattice,
  MapLattice,
  MaxLattice,
  SetLattice,
  VectorClock,
  latticeEquals,
  mergeLattices,
} from "../../src/lattice/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import type { ChangeEvent, Store } from "../../src/storage/index.js";
import { byKind } from "../lattice/arbitraries.js";
import { BACKENDS, BackendFixture } from "../support/backends.js";

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

for (const backend of BACKENDS) {
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
          const first = await store.get(key);
          assert.ok(first !== undefined && latticeEquals(first, a), `${kind} round trip`);
          await store.put(key, b);
          const second = await store.get(key);
          assert.ok(
            second !== undefined && latticeEquals(second, mergeLattices(a, b)),
            `${kind} merge`,
          );
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

    it("throws CLOSED after close", async () => {
      const s = await fx.open();
      await s.close();
      await assert.rejects(s.get("k"), hasCode("CLOSED"));
      await assert.rejects(s.put("k", new MaxLattice(1)), hasCode("CLOSED"));
    });
  });
}

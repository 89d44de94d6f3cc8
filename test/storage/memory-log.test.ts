/**
 * Durability of the embedded backend's append-only log: crash recovery, torn tails, compaction.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, mock } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import fc from "fast-check";
import type { SetLattice } from "../../src/lattice/index.js";
import {
  CounterLattice,
  HybridClock,
  LwwLattice,
  MaxLattice,
  latticeEquals,
} from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { FsyncPolicy } from "../../src/storage/index.js";

const dir = mkdtempSync(join(tmpdir(), "stratus-log-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;

/** One operation of the interleaving property, on one of two keys. */
type Op =
  | { op: "pia"; key: string; n: number; yield: boolean }
  | { op: "put"; key: string; n: number; yield: boolean }
  | { op: "delete"; key: string; yield: boolean }
  | { op: "expire"; key: string; hours: number; yield: boolean };

const keyArb = fc.constantFrom("a", "b");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("pia" as const),
    key: keyArb,
    n: fc.integer({ min: 1, max: 9 }),
    yield: fc.boolean(),
  }),
  fc.record({
    op: fc.constant("put" as const),
    key: keyArb,
    n: fc.integer({ min: 1, max: 9 }),
    yield: fc.boolean(),
  }),
  fc.record({ op: fc.constant("delete" as const), key: keyArb, yield: fc.boolean() }),
  fc.record({
    op: fc.constant("expire" as const),
    key: keyArb,
    hours: fc.integer({ min: 1, max: 5 }),
    yield: fc.boolean(),
  }),
);

/** Runs the writer child until it has acknowledged `n` writes, then SIGKILLs it. */
async function crashAfter(path: string, fsync: FsyncPolicy, n: number): Promise<number[]> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures", "log-writer.ts"), path, fsync],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const acked: number[] = [];
  let buf = "";
  let killed = false;
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const l of lines) acked.push(Number(l));
    if (!killed && acked.length >= n) {
      killed = true;
      child.kill("SIGKILL");
    }
  });
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  assert.equal(signal, "SIGKILL", `writer exited on its own (code ${code})`);
  return acked;
}

describe("storage/memory append-only log", () => {
  for (const fsync of ["always", "never"] as const) {
    it(`a process killed with SIGKILL mid-stream recovers every acknowledged write (fsync=${fsync})`, async () => {
      const path = join(dir, `crash-${fsync}.log`);
      const acked = await crashAfter(path, fsync, 3000);
      assert.ok(acked.length >= 3000);
      const store = await MemoryStore.open({ logPath: path });
      try {
        const values = await store.getMany(acked.map((i) => `k/${i}`));
        const lost = acked.filter((i, j) => (values[j] as MaxLattice | undefined)?.value !== i);
        assert.deepEqual(lost, []);
        const all = (await store.get("all")) as SetLattice;
        for (const i of acked) assert.ok(all.has(i), `set element ${i} recovered`);
      } finally {
        await store.close();
      }
    });
  }

  it("under any interleaving, what the store shows is what its log replays, and one putIfAbsent wins", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(opArb, { minLength: 2, maxLength: 14 }),
        async (s, ops) => {
          const path = join(dir, `interleave-${run++}.log`);
          const store = await MemoryStore.open({ logPath: path, fsync: "never" });
          const results: Promise<boolean | undefined>[] = ops.map((o, i) =>
            s.schedule(Promise.resolve(i), `${o.op} ${o.key}`).then(async () => {
              switch (o.op) {
                case "pia":
                  // Each caller is its own writer: the stored value tells who won.
                  return store.putIfAbsent(o.key, new CounterLattice([[`caller-${i}`, [o.n, 0]]]));
                case "put":
                  await store.put(o.key, CounterLattice.delta(o.n));
                  return undefined;
                case "delete":
                  await store.delete(o.key);
                  return undefined;
                case "expire":
                  await store.expire(o.key, o.hours * HOUR);
                  return undefined;
              }
            }),
          );
          // Release the operations in the scheduler's order; some let the log's writes proceed
          // before the next one starts, so appends complete between the others' checks.
          while (s.count() > 0) {
            await s.waitOne();
            await tick();
          }
          const won = await Promise.all(results);
          const keys = ["a", "b"];
          const shown = await store.getMany(keys);
          const deadlines = keys.map((k) => store.expiresAt(k));
          await store.close();
          const again = await MemoryStore.open({ logPath: path });
          try {
            const replayed = await again.getMany(keys);
            for (const [j, k] of keys.entries()) {
              const x = shown[j];
              const y = replayed[j];
              assert.ok(
                x === y || (x !== undefined && y !== undefined && latticeEquals(x, y)),
                `key ${k}: the log replays what the store showed`,
              );
              assert.equal(again.expiresAt(k), deadlines[j], `key ${k}: the same expiry`);
            }
          } finally {
            await again.close();
          }
          for (const k of keys) {
            const mine = ops.map((o, i) => [o, i] as const).filter(([o]) => o.key === k);
            const wins = mine.filter(([o, i]) => o.op === "pia" && won[i] === true);
            const deletes = mine.filter(([o]) => o.op === "delete").length;
            assert.ok(
              wins.length <= 1 + deletes,
              `key ${k}: ${wins.length} putIfAbsent callers won`,
            );
            if (deletes > 0) continue;
            const firstWrite = mine.find(([o]) => o.op === "pia" || o.op === "put");
            if (mine.every(([o]) => o.op !== "put") && firstWrite !== undefined) {
              assert.equal(wins.length, 1, `key ${k}: exactly one putIfAbsent caller won`);
            }
            const sum = mine.reduce((t, [o]) => t + (o.op === "put" ? o.n : 0), 0);
            const won1 = wins[0]?.[0];
            const expected = sum + (won1?.op === "pia" ? won1.n : 0);
            const v = shown[keys.indexOf(k)];
            if (firstWrite !== undefined) {
              assert.equal((v as CounterLattice).value, expected, `key ${k}: every write counted`);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("logs expiries: a key whose deadline passed while the store was down is gone at open, another keeps its remaining time", async () => {
    const path = join(dir, "expiry.log");
    const a = await MemoryStore.open({ logPath: path });
    await a.put("short", new MaxLattice(1));
    await a.put("long", new MaxLattice(2));
    await a.put("none", new MaxLattice(3));
    const t0 = Date.now();
    await a.expire("short", 60_000);
    await a.expire("long", 3 * HOUR);
    const deadline = a.expiresAt("long") as number;
    assert.ok(deadline >= t0 + 3 * HOUR);
    await a.close();

    // Two hours later (by the wall clock): "short" expired while the store was down.
    mock.timers.enable({ apis: ["Date"], now: t0 + 2 * HOUR });
    try {
      const b = await MemoryStore.open({ logPath: path });
      assert.equal(await b.get("short"), undefined, "expired while down: dropped at open");
      assert.equal(((await b.get("long")) as MaxLattice).value, 2);
      assert.equal(((await b.get("none")) as MaxLattice).value, 3);
      assert.equal(b.expiresAt("long"), deadline, "the remaining hour, not a fresh TTL");
      assert.equal(b.expiresAt("none"), undefined, "a key without an expiry still has none");
      await b.close();
    } finally {
      mock.timers.reset();
    }
    // The drop at open is in the log too: back at the real time, "short" does not reappear.
    const c = await MemoryStore.open({ logPath: path });
    assert.equal(await c.get("short"), undefined);
    assert.equal(c.expiresAt("long"), deadline);
    await c.close();
  });

  it("compaction keeps expiries and deleted counters", async () => {
    const path = join(dir, "compact-expiry.log");
    const clock = new HybridClock({ node: "ce" });
    const a = await MemoryStore.open({ logPath: path, fsync: "never", compactAtBytes: 16 * 1024 });
    await a.put("ttl", new MaxLattice(1));
    await a.expire("ttl", HOUR);
    const deadline = a.expiresAt("ttl");
    await a.put("ctr", new CounterLattice([["w", [5, 0]]]));
    await a.delete("ctr");
    for (let i = 0; i < 400; i++) {
      await a.put(`pad${i % 4}`, LwwLattice.of("x".repeat(200), clock.now()));
    }
    await a.close();
    assert.ok(statSync(path).size < 16 * 1024, "the log was compacted");
    const b = await MemoryStore.open({ logPath: path });
    assert.equal(b.expiresAt("ttl"), deadline);
    assert.equal(await b.get("ctr"), undefined);
    await b.put("ctr", new CounterLattice([["w", [6, 0]]]));
    assert.equal(((await b.get("ctr")) as CounterLattice).value, 1);
    await b.close();
  });

  it("a delete is visible only once it is in the log", async () => {
    const path = join(dir, "delete-durable.log");
    const a = await MemoryStore.open({ logPath: path });
    await a.put("k", new MaxLattice(1));
    const deleting = a.delete("k");
    assert.equal(
      ((await a.get("k")) as MaxLattice | undefined)?.value,
      1,
      "still there while the delete is being written",
    );
    await deleting;
    assert.equal(await a.get("k"), undefined);
    await a.close();
  });

  it("cuts off a torn tail and keeps everything before it", async () => {
    const path = join(dir, "torn.log");
    const a = await MemoryStore.open({ logPath: path });
    for (let i = 0; i < 100; i++) await a.put(`k${i}`, new MaxLattice(i));
    await a.close();
    const intact = statSync(path).size;
    appendFileSync(path, Buffer.from([0x20, 0, 0, 0, 1, 2, 3])); // a header promising 32 bytes, then 3
    const b = await MemoryStore.open({ logPath: path });
    assert.equal(b.recovery.records, 100);
    assert.equal(b.recovery.truncatedBytes, 7);
    assert.equal(statSync(path).size, intact);
    assert.equal(((await b.get("k99")) as MaxLattice).value, 99);
    await b.put("after", new MaxLattice(1));
    await b.close();
    const c = await MemoryStore.open({ logPath: path });
    assert.equal(((await c.get("after")) as MaxLattice).value, 1);
    await c.close();
  });

  it("rejects a record with a bad checksum instead of replaying it", async () => {
    const path = join(dir, "crc.log");
    const a = await MemoryStore.open({ logPath: path });
    await a.put("x", new MaxLattice(1));
    await a.put("y", new MaxLattice(2));
    await a.close();
    const data = readFileSync(path);
    data[data.length - 1] = (data[data.length - 1] as number) ^ 0xff; // corrupt the last payload
    writeFileSync(path, data);
    const b = await MemoryStore.open({ logPath: path });
    assert.equal(b.recovery.records, 1);
    assert.equal(((await b.get("x")) as MaxLattice).value, 1);
    assert.equal(await b.get("y"), undefined);
    await b.close();
  });

  it("compacts the log to a snapshot once it outgrows the live data", async () => {
    const path = join(dir, "compact.log");
    const clock = new HybridClock({ node: "c" });
    const a = await MemoryStore.open({ logPath: path, fsync: "never", compactAtBytes: 64 * 1024 });
    for (let round = 0; round < 500; round++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, k) =>
          a.put(`k${k}`, LwwLattice.of({ round, pad: "x".repeat(100) }, clock.now())),
        ),
      );
    }
    await a.close();
    const size = statSync(path).size;
    assert.ok(
      size < 64 * 1024,
      `log was compacted (now ${size} bytes, ~${500 * 10 * 150} written)`,
    );
    const b = await MemoryStore.open({ logPath: path });
    for (let k = 0; k < 10; k++) {
      assert.deepEqual(((await b.get(`k${k}`)) as LwwLattice).value(), {
        round: 499,
        pad: "x".repeat(100),
      });
    }
    await b.close();
  });
});

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
import { after, describe, it } from "node:test";
import type { SetLattice } from "../../src/lattice/index.js";
import { HybridClock, LwwLattice, MaxLattice } from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { FsyncPolicy } from "../../src/storage/index.js";

const dir = mkdtempSync(join(tmpdir(), "stratus-log-"));
after(() => rmSync(dir, { recursive: true, force: true }));

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

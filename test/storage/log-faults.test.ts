/**
 * The append log under faults: a full filesystem (a real 256 KiB tmpfs, mounted by the test; the
 * tests run as root), a flipped byte in the middle of the file, and a second process opening the
 * same log.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isStratusError } from "../../src/errors/index.js";
import { HybridClock, LwwLattice, MaxLattice } from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";

const dir = mkdtempSync(join(tmpdir(), "stratus-logfault-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(e: unknown): string {
  return isStratusError(e) ? e.code : String(e);
}

/** Starts the holder fixture on `path` and resolves with its first line and the process. */
async function holder(path: string): Promise<{ line: string; proc: ReturnType<typeof spawn> }> {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures", "log-holder.ts"), path],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  for await (const d of proc.stdout) {
    out += (d as Buffer).toString();
    if (out.includes("\n")) break;
  }
  return { line: out.trim(), proc };
}

describe("storage/memory append log under faults", () => {
  it("a full filesystem stops the log: no acknowledged write is lost, later writes are refused", async () => {
    const mnt = join(dir, "tmpfs");
    rmSync(mnt, { recursive: true, force: true });
    spawnSync("mkdir", ["-p", mnt]);
    const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], {
      encoding: "utf8",
    });
    assert.equal(mount.status, 0, `mount failed (the test needs root): ${mount.stderr}`);
    // Stores left open by a failed assertion would keep the mount busy: closed before umount.
    const opened: MemoryStore[] = [];
    try {
      const path = join(mnt, "full.log");
      const store = await MemoryStore.open({ logPath: path });
      opened.push(store);
      const acked: number[] = [];
      let failure: unknown;
      // 1 KiB values: the 256 KiB filesystem fills after a couple of hundred.
      const clock = new HybridClock({ node: "full" });
      const pad = "x".repeat(1024);
      for (let i = 0; failure === undefined && i < 10_000; i++) {
        try {
          await store.put(`k/${i}`, LwwLattice.of([i, pad], clock.now()));
          acked.push(i);
        } catch (e) {
          failure = e;
        }
      }
      // The fault happened, and surfaced as a typed error carrying the system's ENOSPC.
      assert.ok(failure !== undefined, "the filesystem filled up");
      assert.equal(codeOf(failure), "STORAGE_UNAVAILABLE");
      assert.match(String((failure as Error).message), /ENOSPC|no space/i);
      // Fail-stop: a small write that would fit after the cut is refused as well.
      await assert.rejects(store.put("small", new MaxLattice(1)), (e) => {
        assert.equal(codeOf(e), "STORAGE_UNAVAILABLE");
        assert.match(String((e as Error).message), /stopped after a failed write/);
        return true;
      });
      // A delete the log refused is not applied either: what the store shows stays durable.
      const victim = `k/${acked[0] as number}`;
      await assert.rejects(store.delete(victim), (e) => codeOf(e) === "STORAGE_UNAVAILABLE");
      assert.ok(
        (await store.get(victim)) !== undefined,
        "a delete that was not logged is not seen",
      );
      await store.close();

      const again = await MemoryStore.open({ logPath: path });
      opened.push(again);
      try {
        const values = await again.getMany(acked.map((i) => `k/${i}`));
        const lost = acked.filter(
          (i, j) => (values[j] as LwwLattice | undefined)?.value<[number]>()[0] !== i,
        );
        assert.deepEqual(lost, [], "every acknowledged write was recovered");
        assert.equal(await again.get("small"), undefined);
        assert.equal(again.recovery.truncatedBytes, 0, "the failed write was cut back at once");
      } finally {
        await again.close();
      }
    } finally {
      await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
      const umount = spawnSync("umount", [mnt], { encoding: "utf8" });
      assert.equal(umount.status, 0, `umount failed: ${umount.stderr}`);
    }
  });

  it("a flipped byte in the middle of the log is reported with the file and offset, not truncated", async () => {
    const path = join(dir, "flip.log");
    const a = await MemoryStore.open({ logPath: path });
    for (let i = 0; i < 200; i++) await a.put(`k${i}`, new MaxLattice(i));
    await a.close();
    const size = statSync(path).size;
    const data = readFileSync(path);
    // Control: the intact log opens and replays every record.
    const intact = await MemoryStore.open({ logPath: path });
    assert.equal(intact.recovery.records, 200);
    await intact.close();

    for (const at of [Math.floor(size / 2), 3, 9]) {
      const bad = Buffer.from(data);
      bad[at] = (bad[at] as number) ^ 0x01;
      writeFileSync(path, bad);
      await assert.rejects(MemoryStore.open({ logPath: path }), (e) => {
        assert.equal(codeOf(e), "BAD_ENCODING");
        const msg = String((e as Error).message);
        assert.ok(msg.includes(path), msg);
        const offset = Number((e as { details?: { offset?: number } }).details?.offset);
        assert.ok(offset <= at && at - offset < 40, `offset ${offset} is the record holding ${at}`);
        assert.ok(msg.includes(`byte ${offset}`), msg);
        return true;
      });
      assert.equal(statSync(path).size, size, "nothing was truncated");
      assert.ok(!existsSync(path + ".lock"), "a refused open leaves no lock behind");
    }
  });

  it("recovery streams a log larger than its read chunk, across record boundaries", async () => {
    const path = join(dir, "big.log");
    const clock = new HybridClock({ node: "big" });
    const a = await MemoryStore.open({ logPath: path, fsync: "never" });
    // 3.5 MiB of records of uneven sizes, so records straddle the 1 MiB chunk boundaries.
    await Promise.all(
      Array.from({ length: 350 }, (_, i) =>
        a.put(`k${i}`, LwwLattice.of("y".repeat(9_000 + i * 7), clock.now())),
      ),
    );
    await a.close();
    assert.ok(statSync(path).size > 3 << 20);
    const b = await MemoryStore.open({ logPath: path });
    try {
      assert.equal(b.recovery.records, 350);
      assert.equal(b.recovery.truncatedBytes, 0);
      for (const i of [0, 117, 349]) {
        assert.equal(((await b.get(`k${i}`)) as LwwLattice).value<string>().length, 9_000 + i * 7);
      }
    } finally {
      await b.close();
    }
  });

  it("a killed holder's lock is taken over even when its PID is a live process again (PID 1 in a restarted container)", async () => {
    const path = join(dir, "pid-reuse.log");
    const first = await holder(path);
    assert.equal(first.line, "open");
    // Control: while the holder lives, the log is refused.
    await assert.rejects(MemoryStore.open({ logPath: path }), (e) => {
      assert.equal(codeOf(e), "STORAGE_UNAVAILABLE");
      return true;
    });
    first.proc.kill("SIGKILL");
    await once(first.proc, "exit");
    // A container restarted after a crash runs its process as PID 1 again, as the dead holder
    // was: the lock file names a process that is alive. Here, this test's own process.
    writeFileSync(path + ".lock", `${process.pid}\n`);
    const store = await MemoryStore.open({ logPath: path });
    await store.put("after", new MaxLattice(1));
    await store.close();
  });

  it("a second process opening the same log is refused; a dead holder's lock is taken over", async () => {
    const path = join(dir, "shared.log");
    const first = await holder(path);
    try {
      assert.equal(first.line, "open");
      const second = await holder(path);
      assert.equal(second.line, "refused STORAGE_UNAVAILABLE");
      await once(second.proc, "exit");
      // In this process too, with the holder's PID in the message.
      await assert.rejects(MemoryStore.open({ logPath: path }), (e) => {
        assert.equal(codeOf(e), "STORAGE_UNAVAILABLE");
        assert.match(
          String((e as Error).message),
          new RegExp(`in use by process ${first.proc.pid}`),
        );
        return true;
      });
    } finally {
      first.proc.kill("SIGKILL");
      await once(first.proc, "exit");
    }
    // The holder died without releasing its lock: the lock is stale and the next open takes it.
    assert.ok(existsSync(path + ".lock"), "the killed holder left its lock file");
    const store = await MemoryStore.open({ logPath: path });
    await store.close();
    assert.ok(!existsSync(path + ".lock"), "close releases the lock");
  });
});

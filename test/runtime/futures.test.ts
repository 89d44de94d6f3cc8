/**
 * Futures at the edges: their size, and their readers when storage fails.
 *
 * A node takes results up to the frame limit (127 MiB), the store values up to 64 MiB. A future's
 * result between the two cannot be stored, so readers by id could never find it: the run fails
 * with VALUE_TOO_LARGE for every reader, instead of resolving for the client it was pushed to
 * while a second reader waits until its deadline. On Redis, through a real client connection.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MemoryStore, Stratus, isStratusError } from "../../src/index.js";
import type { Store } from "../../src/index.js";
import { HybridClock, encodeValue } from "../../src/lattice/index.js";
import { KEYS } from "../../src/protocol/index.js";
import { storeFuture } from "../../src/scheduler/index.js";
import { BackendFixture } from "../../testing/backends.js";

const MiB = 1024 * 1024;

describe("runtime: futures and the store's value limit", () => {
  const fixture = new BackendFixture("redis");
  let cloud: Stratus;
  let other: Stratus;

  before(async () => {
    cloud = await Stratus.local({ executors: 1, store: await fixture.open(), token: "fut" });
    other = await Stratus.connect(cloud.url as string, { token: "fut" });
    await cloud.register("blob", (_ctx, mib: number) => new Uint8Array(mib * 1024 * 1024).fill(7));
    await cloud.registerDag("blobs", { functions: ["blob"], edges: [] });
  });

  after(async () => {
    await other?.close();
    await cloud?.close();
    await fixture.teardown();
  });

  const tooLarge = (e: unknown): boolean => {
    assert.ok(isStratusError(e), String(e));
    assert.equal(e.code, "VALUE_TOO_LARGE", e.message);
    assert.match(e.message, /future/);
    return true;
  };

  it("a future of 80 MiB fails with VALUE_TOO_LARGE for its caller and for a reader by id", async () => {
    const fut = await cloud.callDag<Uint8Array>("blobs", { blob: [80] }, { future: true });
    await assert.rejects(fut.get(), tooLarge);
    await assert.rejects(other.future(fut.id, { timeoutMs: 10_000 }).get(), tooLarge);
  });

  it("control: a future of 8 MiB is read by its caller and by a reader by id", async () => {
    const fut = await cloud.callDag<Uint8Array>("blobs", { blob: [8] }, { future: true });
    assert.equal((await fut.get()).byteLength, 8 * MiB);
    const again = await other.future<Uint8Array>(fut.id, { timeoutMs: 10_000 }).get();
    assert.equal(again.byteLength, 8 * MiB);
    assert.equal(again[8 * MiB - 1], 7);
  });
});

describe("runtime: a reader by id when a storage read fails", () => {
  it("keeps waiting, and resolves on the next write, instead of an unhandled rejection", async () => {
    const id = randomUUID();
    const key = KEYS.future + id;
    let failing = false;
    let firstRead!: () => void;
    const read = new Promise<void>((r) => (firstRead = r));
    let readFailed!: () => void;
    const failed = new Promise<void>((r) => (readFailed = r));
    const memory = await MemoryStore.open();
    // The real store, except that reads of this future's key fail while `failing` is set, as a
    // GET does when storage restarts between a change notification and the read it prompts.
    const store = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop !== "get") return Reflect.get(target, prop, receiver) as unknown;
        return async (k: string) => {
          if (k === key) {
            firstRead();
            if (failing) {
              readFailed();
              throw new Error("storage restarting");
            }
          }
          return target.get(k);
        };
      },
    }) as Store;
    const cloud = await Stratus.local({ executors: 1, store, token: "fut" });
    try {
      const clock = new HybridClock();
      // Started, not settled: the record a gateway writes when it starts a future's run.
      await storeFuture(store, clock, id, { ok: false, pending: true }, 60_000);
      const waiting = cloud.future<number>(id, { timeoutMs: 20_000 }).get();
      await read;
      failing = true;
      // Notified, read, and the read fails: no answer yet, and nothing may escape unhandled.
      await storeFuture(store, clock, id, { ok: true, v: encodeValue(1) }, 60_000);
      await failed;
      failing = false;
      await storeFuture(store, clock, id, { ok: true, v: encodeValue(2) }, 60_000);
      assert.equal(await waiting, 2);
    } finally {
      await cloud.close();
      await memory.close();
    }
  });
});

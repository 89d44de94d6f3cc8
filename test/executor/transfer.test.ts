/**
 * Bytes into and out of executor workers move by transfer, not structured clone: the buffer a
 * message carries is detached on the sending side. What the pool moves is its own copy (made
 * once), so the caller's arguments and the node's cached values are never taken from them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode, HostHandler } from "../../src/node/executor/index.js";
import { Slot } from "../../src/node/executor/slot.js";
import { decodeValue, encodeValue, ownValueBytes } from "../../src/lattice/index.js";

const code = (name: string, source: string): FunctionCode => ({
  name,
  version: "1",
  kind: "source",
  source,
});

/** Resolves on the next turn of the event loop after the slot's batched flush. */
const flushed = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

describe("executor: bytes move by transfer", () => {
  const stored = encodeValue(new Float64Array(1 << 17).fill(2.5));
  const puts: Uint8Array[] = [];
  const host: HostHandler = async (op, args, _inv) => {
    if (op === "get") return { version: "v1", bytes: stored };
    if (op === "put") puts.push(args[1]);
    return undefined;
  };
  let pool: ExecutorPool;
  before(async () => {
    pool = new ExecutorPool({ size: 1, host });
    await pool.start();
  });
  after(async () => {
    await pool.close();
  });

  it("detaches a transferred buffer on the sender side (control: one posted without transfer)", async () => {
    const events = { message: () => undefined, exit: () => undefined, expired: () => undefined };
    const slot = new Slot(events, {}, 0, 64 << 20);
    try {
      await slot.booted;
      const kept = ownValueBytes(encodeValue(new Uint8Array(100_000)));
      const moved = ownValueBytes(encodeValue(new Uint8Array(100_000)));
      // Mail for an invocation the worker does not have: delivered, then dropped there.
      slot.post({ t: "mail", inv: "nobody", m: kept });
      slot.post({ t: "mail", inv: "nobody", m: moved }, [moved.buffer as ArrayBuffer]);
      await flushed();
      assert.equal(kept.byteLength, 100_007, "cloned: still readable here");
      assert.equal(moved.byteLength, 0, "transferred: detached here");
      assert.equal(moved.buffer.byteLength, 0);
    } finally {
      slot.kill();
      await slot.exited;
    }
  });

  it("moves one copy of the arguments in, decoded in place; the caller's stay intact", async () => {
    const tensor = new Float32Array(1 << 18).fill(1.25);
    const args = [encodeValue(tensor)];
    const before = Buffer.from(args[0] as Uint8Array);
    const probe = code("probe", "(ctx, x) => [x.byteOffset, x.buffer.byteLength, x.length, x[7]]");
    const out = decodeValue(await pool.invoke({ id: "p1", code: probe, args }));
    // Viewed where it arrived: 7 bytes of header plus 1 of padding, then the aligned data.
    assert.deepEqual(out, [8, 8 + tensor.byteLength, tensor.length, 1.25]);
    assert.ok(Buffer.from(args[0] as Uint8Array).equals(before), "the caller's bytes untouched");
  });

  it("moves results out in buffers of their own", async () => {
    const make = code("make", "() => new Float64Array(1 << 16).fill(3)");
    const out = await pool.invoke({ id: "r1", code: make, args: [] });
    assert.ok(out.byteOffset < 8);
    assert.equal(out.buffer.byteLength, out.byteOffset + out.byteLength);
    assert.equal(decodeValue<Float64Array>(out)[65_535], 3);
  });

  it("sends the node's cached bytes as a copy, and moves what a function puts", async () => {
    const snapshot = Buffer.from(stored);
    const rw = code(
      "rw",
      "async (ctx) => { const v = await ctx.get('vec'); v[0] = 9; await ctx.put('out', v); return v.length; }",
    );
    assert.equal(decodeValue(await pool.invoke({ id: "g1", code: rw, args: [] })), 1 << 17);
    assert.ok(Buffer.from(stored).equals(snapshot), "the host's bytes were not taken or changed");
    const put = puts.at(-1) as Uint8Array;
    assert.equal(put.buffer.byteLength, put.byteOffset + put.byteLength, "a buffer of its own");
    assert.equal(decodeValue<Float64Array>(put)[0], 9);
  });

  it("keeps a chain's intermediate results in the worker when asked to", async () => {
    const twice = code("twice", "(ctx, x) => x.map((v) => v * 2)");
    const calls = ["c1", "c2", "c3"].map((id, i) => ({
      id,
      code: twice,
      args: i === 0 ? [encodeValue(new Float32Array([1, 2]))] : [],
    }));
    const quiet = await Promise.all(pool.invokeChain(calls, { intermediate: false }));
    assert.deepEqual(
      quiet.map((b) => b.byteLength === 0),
      [true, true, false],
    );
    assert.deepEqual([...decodeValue<Float32Array>(quiet[2] as Uint8Array)], [8, 16]);
    // Control: by default every call's result comes back.
    const all = await Promise.all(pool.invokeChain(calls.map((c) => ({ ...c, id: `d${c.id}` }))));
    assert.deepEqual(
      all.map((b) => [...decodeValue<Float32Array>(b)]),
      [
        [2, 4],
        [4, 8],
        [8, 16],
      ],
    );
  });
});

/**
 * Framing: length-prefixed msgpack frames survive any chunking, binary values round-trip, and
 * every kind of malformed input is rejected with BAD_FRAME (never another error, never a hang).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Packr } from "msgpackr";
import { BadFrameError, ValueTooLargeError } from "../../src/errors/index.js";
import { FrameDecoder, encodeFrame } from "../../src/wire/index.js";
import { prng, randomBytes } from "./helpers.js";

const packr = new Packr({ useRecords: false });

function frameOf(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length);
  return Buffer.concat([head, payload]);
}

/** Splits `buf` into chunks at the given cut points. */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe("encodeFrame / FrameDecoder", () => {
  it("writes a 4-byte big-endian length before the msgpack payload", () => {
    const f = encodeFrame({ t: "msg", m: "x", a: 1 });
    assert.equal(f.readUInt32BE(0), f.length - 4);
    assert.deepEqual(new FrameDecoder().push(f), [{ t: "msg", m: "x", a: 1 }]);
  });

  it("decodes many frames from one chunk and frames split at every byte", () => {
    const msgs = Array.from({ length: 50 }, (_, i) => ({ t: "req", i, m: "m", a: "x".repeat(i) }));
    const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)));
    assert.deepEqual(new FrameDecoder().push(stream), msgs);
    const d = new FrameDecoder();
    const out = [];
    for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
    assert.deepEqual(out, msgs);
    assert.equal(d.bufferedBytes, 0);
  });

  it("decodes under random chunking", () => {
    const rand = prng(7);
    const msgs = Array.from({ length: 200 }, (_, i) => ({
      t: "msg",
      m: `m${i}`,
      a: randomBytes(rand, Math.floor(rand() * 3000)),
    }));
    const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)));
    for (let round = 0; round < 20; round++) {
      const points = Array.from({ length: 40 }, () => Math.floor(rand() * stream.length));
      points.sort((a, b) => a - b);
      const d = new FrameDecoder();
      const out = cut(stream, points).flatMap((c) => d.push(c));
      assert.deepEqual(out, msgs);
    }
  });

  it("round-trips binary values as bytes, including frames larger than a socket read", () => {
    const big = randomBytes(prng(1), 3 * 1024 * 1024 + 17);
    const msg = { t: "res", i: 1, ok: true, v: { big, small: new Uint8Array([0, 255, 7]) } };
    const f = encodeFrame(msg);
    const d = new FrameDecoder();
    const out = cut(
      f,
      Array.from({ length: 48 }, (_, i) => (i + 1) * 65536),
    ).flatMap((c) => d.push(c));
    assert.equal(out.length, 1);
    const v = out[0]!.v as { big: Uint8Array; small: Uint8Array };
    assert.ok(v.big instanceof Uint8Array);
    assert.ok(Buffer.from(v.big).equals(big));
    assert.deepEqual([...v.small], [0, 255, 7]);
  });

  it("copies binary values out of shared chunks so they do not pin the read buffer", () => {
    const chunk = Buffer.concat([
      encodeFrame({ t: "msg", m: "a", a: new Uint8Array([1, 2]) }),
      encodeFrame({ t: "msg", m: "b", a: 1 }),
    ]);
    const [first] = new FrameDecoder().push(chunk);
    const bin = first!.a as Uint8Array;
    assert.notEqual(bin.buffer, chunk.buffer);
    chunk.fill(0);
    assert.deepEqual([...bin], [1, 2]);
  });

  it("refuses to encode circular or unencodable messages with INVALID_ARGUMENT", () => {
    const circular: Record<string, unknown> = { t: "msg" };
    circular.self = circular;
    for (const msg of [circular, { t: "msg", a: Symbol("s") }]) {
      assert.throws(() => encodeFrame(msg), { code: "INVALID_ARGUMENT" });
    }
  });

  it("refuses to encode a message above the limit", () => {
    assert.throws(
      () => encodeFrame({ t: "msg", a: new Uint8Array(2000) }, 1000),
      (e) => e instanceof ValueTooLargeError && e.code === "VALUE_TOO_LARGE",
    );
  });

  const badFrame = (e: unknown): boolean => e instanceof BadFrameError && e.code === "BAD_FRAME";

  it("rejects a length above maxFrameBytes before buffering the payload", () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1025);
    assert.throws(() => d.push(head), badFrame);
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    assert.throws(() => new FrameDecoder().push(huge), badFrame);
  });

  it("rejects a length split across chunks as soon as it is complete", () => {
    const d = new FrameDecoder({ maxFrameBytes: 10 });
    assert.deepEqual(d.push(Buffer.from([0x00, 0x00])), []);
    assert.throws(() => d.push(Buffer.from([0x10, 0x00])), badFrame);
  });

  it("rejects payloads that are not one msgpack message object with a string t", () => {
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Buffer.from([0xc1]),
      packr.pack([1, 2, 3]),
      packr.pack("hello"),
      packr.pack(null),
      packr.pack({ m: "no type" }),
      packr.pack({ t: 5 }),
      packr.pack(new Date(0)),
      Buffer.concat([packr.pack({ t: "msg" }), Buffer.from([0x01])]),
      packr.pack({ t: "msg" }).subarray(0, 3),
      // Nesting deep enough to overflow the decoder's stack.
      Buffer.concat([Buffer.alloc(200_000, 0x91), Buffer.from([0x01])]),
    ];
    for (const payload of cases) {
      assert.throws(
        () => new FrameDecoder().push(frameOf(payload)),
        badFrame,
        [...payload].join(","),
      );
    }
  });

  it("rejects only with BAD_FRAME on 10,000 random inputs", () => {
    const rand = prng(0xf00d);
    for (let i = 0; i < 10_000; i++) {
      const payload =
        rand() < 0.5
          ? randomBytes(rand, Math.floor(rand() * 64))
          : packr.pack({ t: "req", i: rand() * 10, m: randomBytes(rand, 3), a: [rand()] });
      const bytes = rand() < 0.5 ? frameOf(payload) : randomBytes(rand, 1 + payload.length);
      const d = new FrameDecoder({ maxFrameBytes: 4096 });
      try {
        for (const c of cut(bytes, [Math.floor(rand() * bytes.length)])) d.push(c);
      } catch (e) {
        assert.ok(badFrame(e), `input ${i}: ${String(e)}`);
      }
    }
  });
});

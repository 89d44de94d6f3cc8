/**
 * Big byte strings in frames: written from the caller's memory (no copy into the frame), read
 * back as exactly the bytes a copying encoder writes, and decoded as views of the received frame.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValueTooLargeError } from "../../src/errors/index.js";
import {
  ByteParts,
  FrameDecoder,
  SPLICE_MIN_BYTES,
  encodeFrame,
  encodeFrameParts,
} from "../../src/wire/index.js";
import type { RawMessage } from "../../src/wire/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";

const joined = (f: Buffer | Buffer[]): Buffer => (Array.isArray(f) ? Buffer.concat(f) : f);

/** Feeds `frame` to a decoder in 64 KiB chunks, as a socket delivers it. */
function receive(frame: Buffer): RawMessage[] {
  const d = new FrameDecoder();
  const out: RawMessage[] = [];
  for (let at = 0; at < frame.length; at += 65_536)
    out.push(...d.push(frame.subarray(at, at + 65_536)));
  return out;
}

describe("wire/splice: big byte strings are not copied into frames", () => {
  it("writes a big value from the caller's memory, as the bytes encodeFrame writes", () => {
    const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    const small = Buffer.from("tiny");
    const msg = { t: "req", i: 7, m: "call", a: { fn: "f", args: [small, big, big.subarray(5)] } };
    const frame = encodeFrameParts(msg);
    assert.ok(Array.isArray(frame), "a frame with big values comes in pieces");
    // Control: the copying encoder puts the bytes into its own buffer.
    const copied = encodeFrame(msg);
    assert.notEqual(copied.buffer, big.buffer);
    // The pieces reference the caller's memory itself: no copy was made.
    const pieces = frame.filter((p) => p.buffer === big.buffer);
    assert.equal(pieces.length, 2);
    assert.deepEqual(
      pieces.map((p) => [p.byteOffset, p.byteLength]),
      [
        [0, 1 << 20],
        [5, (1 << 20) - 5],
      ],
    );
    assert.ok(joined(frame).equals(copied), "byte for byte what encodeFrame writes");
    assert.deepEqual(msg.a.args[1], big, "the caller's message is left as it was");
    const [back] = receive(joined(frame));
    const a = back?.a as { args: Uint8Array[] };
    assert.deepEqual(Buffer.from(a.args[1] as Uint8Array), Buffer.from(big));
    assert.deepEqual(Buffer.from(a.args[0] as Uint8Array).toString(), "tiny");
  });

  it("sends ByteParts as one bin from their pieces' memory; small ones joined", () => {
    const head = Uint8Array.from([1, 2, 3]);
    const body = new Uint8Array(200_000).fill(5);
    const big = new ByteParts([head, body]);
    const frame = encodeFrameParts({ t: "msg", m: "x", a: { v: big } });
    assert.ok(Array.isArray(frame));
    assert.ok(frame.some((p) => p.buffer === body.buffer && p.byteLength === body.byteLength));
    const expected = encodeFrame({ t: "msg", m: "x", a: { v: Buffer.concat([head, body]) } });
    assert.ok(joined(frame).equals(expected));
    const small = new ByteParts([head, body.subarray(0, 10)]);
    const one = encodeFrameParts({ t: "msg", m: "x", a: [small] });
    assert.ok(!Array.isArray(one));
    const [back] = receive(one);
    assert.deepEqual(
      [...((back?.a as Uint8Array[])[0] as Uint8Array)],
      [1, 2, 3, ...body.subarray(0, 10)],
    );
    // Where no splicing encoder looks, it is still the right bytes (joined through toJSON).
    assert.ok(encodeFrame({ t: "msg", m: "x", a: { v: big } }).equals(expected));
  });

  it("encodes frames without big values as one buffer, as before", () => {
    const msg = { t: "msg", m: "x", a: { v: new Uint8Array(SPLICE_MIN_BYTES - 1) } };
    const frame = encodeFrameParts(msg);
    assert.ok(!Array.isArray(frame));
    assert.ok(frame.equals(encodeFrame(msg)));
  });

  it("refuses a spliced frame over the limit with VALUE_TOO_LARGE", () => {
    const msg = { t: "msg", m: "x", a: new Uint8Array(200_000) };
    assert.throws(() => encodeFrameParts(msg, 100_000), ValueTooLargeError);
    assert.ok(Array.isArray(encodeFrameParts(msg, 300_000)));
  });

  it("decodes a big received value as a view of the frame: an image, and an aligned tensor", () => {
    const img = new Uint8Array(300_000).fill(9);
    const value = encodeValue(img);
    const [msg] = receive(joined(encodeFrameParts({ t: "res", i: 1, ok: true, v: value })));
    const v = msg?.v as Buffer;
    const out = decodeValue<Uint8Array>(v, { inPlace: true });
    assert.ok(out instanceof Uint8Array);
    assert.equal(out.buffer, v.buffer, "the decoded array shares the frame's ArrayBuffer");
    assert.equal(out.length, img.length);
    // A Float64Array shares it too when its data lands on an 8-byte boundary in the frame; the
    // `pad` string moves it there (the frame's payload starts a fresh ArrayBuffer).
    const tensor = new Float64Array(40_000).fill(0.5);
    let views = 0;
    for (let pad = 0; pad < 8; pad++) {
      const f = { t: "res", i: 1, ok: true, p: "x".repeat(pad), v: encodeValue(tensor) };
      const [m] = receive(joined(encodeFrameParts(f)));
      const bytes = m?.v as Buffer;
      const t = decodeValue<Float64Array>(bytes, { inPlace: true });
      const aligned = (bytes.byteOffset + 7) % 8 === 0;
      assert.equal(t.buffer === bytes.buffer, aligned, `pad ${pad}: a view exactly when aligned`);
      assert.equal(t[39_999], 0.5);
      if (aligned) views++;
    }
    assert.equal(views, 1, "one of eight offsets is aligned");
  });
});

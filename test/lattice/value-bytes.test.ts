/**
 * The value codec's bytes path: owned encodings (one buffer per value, transferable), typed
 * arrays aligned so that an in-place decode views them, and in-place decodes that share memory
 * with the bytes where msgpackr allows it (and copy where alignment forbids it).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeValue,
  encodeValue,
  encodeValueOwned,
  ownValueBytes,
  typedDataOffset,
} from "../../src/lattice/index.js";

const CTORS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

/** A typed array of `ctor` over `bytes` (whole elements only). */
function typed(ctor: (typeof CTORS)[number], bytes: Uint8Array): ArrayBufferView {
  const n = Math.floor(bytes.length / ctor.BYTES_PER_ELEMENT);
  const copy = new Uint8Array(n * ctor.BYTES_PER_ELEMENT);
  copy.set(bytes.subarray(0, copy.length));
  return new ctor(copy.buffer);
}

/** Sizes around every msgpack header boundary (ext8/16/32, bin8/16/32). */
const sizes = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 65_500, max: 65_600 }),
  fc.constant(1 << 20),
);

describe("lattice/values: the bytes path", () => {
  it("encodeValueOwned writes exactly encodeValue's bytes, in a buffer of their own", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: CTORS.length }), sizes, (k, size) => {
        const raw = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
        const ctor = CTORS[k];
        const value = ctor === undefined ? Buffer.from(raw) : typed(ctor, raw);
        const owned = encodeValueOwned(value);
        assert.deepEqual(Buffer.from(owned), Buffer.from(encodeValue(value)));
        // Nothing else lives in its ArrayBuffer: at most 7 bytes of padding in front.
        assert.ok(owned.byteOffset < 8);
        assert.equal(owned.buffer.byteLength, owned.byteOffset + owned.byteLength);
      }),
      { numRuns: 150 },
    );
  });

  it("aligns a top-level typed array so an in-place decode views it (control: a copying decode)", () => {
    for (const ctor of CTORS) {
      const value = typed(ctor, new Uint8Array(4096).fill(7));
      for (const bytes of [encodeValueOwned(value), ownValueBytes(encodeValue(value))]) {
        const at = typedDataOffset(bytes);
        assert.equal((bytes.byteOffset + at) % 8, 0, `${ctor.name} data is 8-byte aligned`);
        const viewed = decodeValue<ArrayBufferView>(bytes, { inPlace: true });
        assert.ok(viewed instanceof ctor);
        assert.equal(viewed.buffer, bytes.buffer, `${ctor.name} decoded in place`);
        assert.equal(viewed.byteOffset, bytes.byteOffset + at);
        const copied = decodeValue<ArrayBufferView>(bytes);
        assert.notEqual(copied.buffer, bytes.buffer, "the default decode copies");
        assert.deepEqual(
          Buffer.from(copied.buffer),
          Buffer.from(viewed.buffer, viewed.byteOffset, viewed.byteLength),
        );
      }
    }
  });

  it("copies a misaligned typed array even in place, and gets its values right", () => {
    const value = new Float64Array([1.5, -2, 3e100, Number.NaN]);
    const enc = encodeValue(value);
    const at = typedDataOffset(enc);
    // Place the data one byte past an 8-byte boundary.
    const pad = (((9 - at) % 8) + 8) % 8;
    const buf = new Uint8Array(new ArrayBuffer(pad + enc.length), pad, enc.length);
    buf.set(enc);
    assert.equal((buf.byteOffset + at) % 8, 1);
    const out = decodeValue<Float64Array>(buf, { inPlace: true });
    assert.ok(out instanceof Float64Array);
    assert.notEqual(out.buffer, buf.buffer);
    assert.deepEqual([...out], [...value]);
    // Uint8Arrays and Buffers have no alignment to respect: always views.
    const bytes = ownValueBytes(
      encodeValue({ img: new Uint8Array([1, 2, 3]), raw: Buffer.from("ab") }),
    );
    const obj = decodeValue<{ img: Uint8Array; raw: Uint8Array }>(bytes, { inPlace: true });
    assert.equal(obj.img.buffer, bytes.buffer);
    assert.equal(obj.raw.buffer, bytes.buffer);
    assert.deepEqual([...obj.img], [1, 2, 3]);
    assert.equal(Buffer.from(obj.raw).toString(), "ab");
  });

  it("round-trips any value through the owned encoding and an in-place decode", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.deepEqual(
          decodeValue(encodeValueOwned(v), { inPlace: true }),
          decodeValue(encodeValue(v)),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("leaves msgpackr's own typed-array decoding alone outside in-place decodes", () => {
    const bytes = ownValueBytes(encodeValue(new Int32Array([1, 2, 3])));
    const a = decodeValue<Int32Array>(bytes);
    const b = decodeValue<Int32Array>(bytes);
    a[0] = 99;
    assert.equal(b[0], 1, "two default decodes never share memory");
    assert.equal(typedDataOffset(encodeValue({ x: 1 })), -1);
    assert.equal(typedDataOffset(encodeValue(Buffer.alloc(10))), -1);
  });
});

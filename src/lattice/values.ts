import { C1, Packr, addExtension } from "msgpackr";
import { BadEncodingError, InvalidArgumentError } from "../errors/index.js";

/**
 * The codec for user values held inside lattices (the payload of an LWW register, the elements of
 * a set, …). Values travel and rest as these bytes; lattices compare bytes, never values, so two
 * writers that encode the same value agree on identity.
 *
 * msgpack with `moreTypes` keeps Dates, Sets, BigInts, typed arrays, RegExps and Errors; records
 * are off so the bytes stay plain msgpack that any client can read. A `Map` is written as the
 * extension {@link MAP_EXT} around its entries, so it reads back as a Map (msgpack has one map
 * type, which plain objects use). Maps stored before that extension were msgpack maps and still
 * read back as plain objects; a version without it cannot read a Map written with it.
 *
 * Big binary values (tensors, images, frames) are the reason for the rest of this file: see
 * {@link decodeValue}'s `inPlace` and {@link encodeValueOwned}, and notes/bytes.md.
 */
// copyBuffers: a decoded Buffer must own its memory, not view the encoded bytes, or user code
// that changes it would change a cached value.
const packr = new Packr({ useRecords: false, moreTypes: true, copyBuffers: true });
// For bytes the caller owns outright: binaries come back as views of them, not copies.
const viewing = new Packr({ useRecords: false, moreTypes: true });

/** msgpackr's typed-array codes (ext type 0x74), in its order: code i is TYPED[i]. */
const TYPED = [
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
type TypedCtor = (typeof TYPED)[number];
const TYPED_EXT = 0x74;

// msgpackr's own 0x74 decoder always copies ("to get a new ArrayBuffer that is aligned"). This
// one views the encoded bytes instead while an in-place decode runs and the data is aligned for
// its element type; otherwise it copies exactly as msgpackr does. Extensions are global to
// msgpackr, so outside `inPlace` decodes this must behave like the original, and it does.
let inPlace = false;
addExtension({ type: TYPED_EXT, unpack: typedFromExt });

function typedFromExt(data: Uint8Array): unknown {
  const code = data[0] ?? -1;
  const Ctor: TypedCtor | undefined = TYPED[code];
  if (inPlace) {
    const at = data.byteOffset + 1;
    const len = data.byteLength - 1;
    if (Ctor !== undefined) {
      const size = Ctor.BYTES_PER_ELEMENT;
      if (at % size === 0 && len % size === 0) {
        return new Ctor(data.buffer as ArrayBuffer, at, len / size);
      }
    } else if (code === 17) return new DataView(data.buffer, at, len);
  }
  const buffer = Uint8Array.prototype.slice.call(data, 1).buffer;
  if (Ctor !== undefined) return new Ctor(buffer);
  if (code === 16) return buffer;
  if (code === 17) return new DataView(buffer);
  throw new Error(`could not find typed array for code ${code}`);
}

/** msgpack extension type of a Map: its entries, as an array of [key, value] pairs. */
export const MAP_EXT = 0x4d;

/** A Map on its way into msgpack: msgpackr writes Maps itself, before any extension is asked. */
class MapEntries {
  constructor(readonly entries: [unknown, unknown][]) {}
}
addExtension({
  Class: MapEntries,
  type: MAP_EXT,
  write: (m: MapEntries) => m.entries,
  read: (entries: [unknown, unknown][]) => new Map(entries),
});

/** True when a Map is somewhere in `v` (binary values are leaves: nothing to look into). */
function hasMap(v: unknown, depth = 0): boolean {
  if (typeof v !== "object" || v === null || ArrayBuffer.isView(v) || depth > 512) return false;
  if (v instanceof Map) return true;
  if (Array.isArray(v)) return v.some((x) => hasMap(x, depth + 1));
  if (v instanceof Set) return [...(v as Set<unknown>)].some((x) => hasMap(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
    return false;
  }
  for (const k in v) if (hasMap((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** `v` with every Map replaced by its {@link MapEntries}; only called when {@link hasMap}. */
function markMaps(v: unknown): unknown {
  if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return v;
  if (v instanceof Map) {
    return new MapEntries(
      [...(v as Map<unknown, unknown>)].map(([k, x]) => [markMaps(k), markMaps(x)]),
    );
  }
  if (Array.isArray(v)) return v.map(markMaps);
  if (v instanceof Set) return new Set([...(v as Set<unknown>)].map(markMaps));
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = markMaps(x);
  return out;
}

/**
 * Encodes a user value. Functions and symbols cannot be stored and are rejected. Values come
 * back as `structuredClone` gives them (Map, Set, Date, BigInt, typed arrays, RegExp, Error),
 * except: -0 reads back as 0, holes in an array as `undefined`, and a Buffer as a Buffer (not a
 * plain Uint8Array).
 */
export function encodeValue(value: unknown): Uint8Array {
  if (typeof value === "function" || typeof value === "symbol") {
    throw new InvalidArgumentError(`a ${typeof value} cannot be stored as a value`);
  }
  try {
    return packr.pack(hasMap(value) ? markMaps(value) : value);
  } catch (e) {
    throw new InvalidArgumentError(`value cannot be encoded: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Options of {@link decodeValue}. */
export interface DecodeValueOptions {
  /**
   * Return binaries as views of `bytes` instead of copies: Buffers always, typed arrays when
   * their data is aligned for their element type in `bytes`' ArrayBuffer (a misaligned one is
   * copied, as a typed array cannot start at an unaligned address). Only for bytes nobody else
   * reads or writes afterwards: the decoded value and `bytes` then share memory.
   * @default false
   */
  inPlace?: boolean;
}

/**
 * Decodes bytes written by {@link encodeValue}; garbage raises `BAD_ENCODING`.
 *
 * @example
 * ```ts
 * const bytes = encodeValue(new Float64Array([1, 2]));
 * decodeValue(bytes); // a Float64Array of its own
 * decodeValue(ownValueBytes(bytes), { inPlace: true }); // a view of those (aligned) bytes
 * ```
 */
export function decodeValue<T = unknown>(bytes: Uint8Array, options?: DecodeValueOptions): T {
  let out: unknown;
  const viewed = options?.inPlace === true;
  try {
    inPlace = viewed;
    out = (viewed ? viewing : packr).unpack(bytes);
  } catch (e) {
    throw new BadEncodingError(`value bytes are not valid msgpack: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    inPlace = false;
  }
  // 0xc1 is the one byte msgpack never uses; msgpackr hands back a marker instead of failing.
  if (out === C1) throw new BadEncodingError("value bytes are not valid msgpack: 0xc1");
  return out as T;
}

/**
 * Where the data of a top-level typed array starts in encoded value bytes, or -1 when the value
 * is not one. Ext headers: fixext (1 byte), ext8 (2), ext16 (3), ext32 (5); then the ext type
 * and msgpackr's typed-array code.
 */
export function typedDataOffset(b: Uint8Array): number {
  const h = b[0] ?? 0;
  const head = h >= 0xd4 && h <= 0xd8 ? 1 : h === 0xc7 ? 2 : h === 0xc8 ? 3 : h === 0xc9 ? 5 : 0;
  return head > 0 && b[head] === TYPED_EXT ? head + 2 : -1;
}

/** Bytes in an ArrayBuffer of their own, placed `pad` bytes into it. */
function fresh(pad: number, length: number): Uint8Array {
  // allocUnsafeSlow: never a slice of Node's shared pool, so the ArrayBuffer can be transferred.
  return new Uint8Array(Buffer.allocUnsafeSlow(pad + length).buffer, pad, length);
}

/** Bytes to put before data at offset `at` so that it lands on an 8-byte boundary. */
const padFor = (at: number): number => (8 - (at % 8)) % 8;

/**
 * One copy of encoded value bytes into an ArrayBuffer that holds nothing else, so it can be
 * transferred to another thread (`postMessage(m, [out.buffer])`) without taking memory that
 * others use. When the value is a typed array, its data is placed on an 8-byte boundary, so
 * `decodeValue(out, { inPlace: true })` views it instead of copying.
 */
export function ownValueBytes(bytes: Uint8Array): Uint8Array {
  const at = typedDataOffset(bytes);
  const out = fresh(at < 0 ? 0 : padFor(at), bytes.byteLength);
  out.set(bytes);
  return out;
}

/**
 * {@link encodeValue} into an ArrayBuffer of its own (see {@link ownValueBytes}). A top-level
 * Buffer or typed array is written straight into it (one copy of its data, aligned), in exactly
 * the bytes `encodeValue` produces; other values are encoded, then copied once.
 */
export function encodeValueOwned(value: unknown): Uint8Array {
  const head = valueHeader(value);
  if (head === undefined) return ownValueBytes(encodeValue(value));
  const data = value as ArrayBufferView;
  // Typed arrays (ext headers, 0xc7-0xc9) get their data aligned; a Buffer's bytes need not be.
  const typed = (head[0] ?? 0) >= 0xc7 && (head[0] ?? 0) <= 0xc9;
  return withHeader(data, head, typed);
}

/**
 * The bytes `encodeValue` writes before the data of a top-level Buffer or typed array (its data
 * follows unchanged), or undefined for any other value. So a big binary value can be sent as
 * these few bytes and the caller's own memory, uncopied.
 *
 * @example
 * ```ts
 * const t = new Float32Array(1 << 20);
 * const head = valueHeader(t)!; // [0xc9, 0, 0x40, 0, 1, 0x74, 7]
 * Buffer.concat([head, new Uint8Array(t.buffer)]); // equals encodeValue(t)
 * ```
 */
export function valueHeader(value: unknown): number[] | undefined {
  if (!ArrayBuffer.isView(value)) return undefined;
  const ctor = value.constructor;
  if (ctor === Buffer) return binHeader(value.byteLength);
  const code = TYPED.indexOf(ctor as TypedCtor);
  return code >= 0 ? extHeader(value.byteLength, code) : undefined;
}

function withHeader(value: ArrayBufferView, head: number[], aligned: boolean): Uint8Array {
  const pad = aligned ? padFor(head.length) : 0;
  const out = fresh(pad, head.length + value.byteLength);
  out.set(head);
  out.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), head.length);
  return out;
}

const be16 = (n: number): number[] => [n >> 8, n & 0xff];
const be32 = (n: number): number[] => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

/** msgpack bin header, as msgpackr writes it for a Buffer. */
function binHeader(len: number): number[] {
  if (len < 0x100) return [0xc4, len];
  if (len < 0x10000) return [0xc5, ...be16(len)];
  return [0xc6, ...be32(len)];
}

/** msgpackr's typed-array ext header: ext8/16/32 by size, type 0x74, then the array's code. */
function extHeader(len: number, code: number): number[] {
  const n = len + 1;
  if (n < 0x100) return [0xc7, n, TYPED_EXT, code];
  if (n < 0x10000) return [0xc8, ...be16(n), TYPED_EXT, code];
  return [0xc9, ...be32(n), TYPED_EXT, code];
}

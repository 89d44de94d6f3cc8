import { C1, Packr } from "msgpackr";
import { BadEncodingError, InvalidArgumentError } from "../errors/index.js";

/**
 * The codec for user values held inside lattices (the payload of an LWW register, the elements of
 * a set, …). Values travel and rest as these bytes; lattices compare bytes, never values, so two
 * writers that encode the same value agree on identity.
 *
 * msgpack with `moreTypes` keeps Dates, Sets, typed arrays, RegExps and Errors; records are off so
 * the bytes stay plain msgpack that any client can read. A `Map` is written as a msgpack map and
 * so reads back as a plain object (msgpack has one map type).
 */
// copyBuffers: a decoded Buffer must own its memory, not view the encoded bytes, or user code
// that changes it would change a cached value.
const packr = new Packr({ useRecords: false, moreTypes: true, copyBuffers: true });

/** Encodes a user value. Functions and symbols cannot be stored and are rejected. */
export function encodeValue(value: unknown): Uint8Array {
  if (typeof value === "function" || typeof value === "symbol") {
    throw new InvalidArgumentError(`a ${typeof value} cannot be stored as a value`);
  }
  try {
    return packr.pack(value);
  } catch (e) {
    throw new InvalidArgumentError(`value cannot be encoded: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Decodes bytes written by {@link encodeValue}; garbage raises `BAD_ENCODING`. */
export function decodeValue<T = unknown>(bytes: Uint8Array): T {
  let out: unknown;
  try {
    out = packr.unpack(bytes);
  } catch (e) {
    throw new BadEncodingError(`value bytes are not valid msgpack: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // 0xc1 is the one byte msgpack never uses; msgpackr hands back a marker instead of failing.
  if (out === C1) throw new BadEncodingError("value bytes are not valid msgpack: 0xc1");
  return out as T;
}

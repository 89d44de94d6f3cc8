import { randomBytes } from "node:crypto";
import { ValueTooLargeError } from "../errors/index.js";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame } from "./frame.js";

/**
 * Frames that carry big byte strings (user values: tensors, images, frames of video) without
 * copying them into the frame. msgpackr writes every `bin` into its output, one copy of each
 * value per hop; here each byte array of {@link SPLICE_MIN_BYTES} or more is swapped for a
 * 16-byte placeholder before encoding, and the frame is handed to the socket as the pieces
 * around the placeholders with the real `bin` header and the caller's bytes in between. The
 * socket writes them with one writev, and the peer reads exactly the bytes `encodeFrame` would
 * have produced. Placeholders are random per process, so they cannot collide with frame content
 * by chance in practice; a collision would show as a decode failure, never as wrong data read.
 */

/** Byte arrays from this size up are written from their own memory rather than copied. */
export const SPLICE_MIN_BYTES = 64 * 1024;

/** How deep into a message the search for big byte arrays goes (payloads are shallow). */
const MAX_DEPTH = 8;
/** Arrays longer than this are not searched (argument lists are short; big arrays are data). */
const MAX_ITEMS = 1024;

/** A frame ready to write: one Buffer, or pieces written back to back. */
export type Frame = Buffer | Buffer[];

const tokenPrefix = randomBytes(12);
let tokenCount = 0;

function token(): Buffer {
  const t = Buffer.allocUnsafe(16);
  tokenPrefix.copy(t, 0);
  t.writeUInt32BE(tokenCount, 12);
  tokenCount = (tokenCount + 1) >>> 0;
  return t;
}

/**
 * A byte string given as pieces (a header and someone's memory, say), sent as one msgpack `bin`
 * without joining them: the peer receives ordinary bytes. Under {@link SPLICE_MIN_BYTES} in all,
 * or where the frame encoder does not look for it, it is joined (`toJSON`) and sent as a copy.
 *
 * @example
 * ```ts
 * const t = new Float32Array(1 << 20);
 * conn.notify("tensor", { v: new ByteParts([header, new Uint8Array(t.buffer)]) });
 * ```
 */
export class ByteParts {
  readonly byteLength: number;
  constructor(readonly parts: readonly Uint8Array[]) {
    let n = 0;
    for (const p of parts) n += p.byteLength;
    this.byteLength = n;
  }

  /** The joined bytes: what msgpack encoders that do not splice write. */
  toJSON(): Buffer {
    return Buffer.concat(this.parts.map(view), this.byteLength);
  }
}

interface Swap {
  token: Buffer;
  pieces: readonly Uint8Array[];
  length: number;
}

function isPlain(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** True when `v` holds a big byte array where {@link swapOut} would find it. */
function holdsBig(v: unknown, depth: number): boolean {
  if (typeof v !== "object" || v === null) return false;
  if (v instanceof Uint8Array) return v.byteLength >= SPLICE_MIN_BYTES;
  if (v instanceof ByteParts) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    if (v.length > MAX_ITEMS) return false;
    for (const x of v) if (holdsBig(x, depth + 1)) return true;
    return false;
  }
  if (!isPlain(v)) return false;
  for (const k in v) {
    if (Object.hasOwn(v, k) && holdsBig((v as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

/**
 * A copy of `v` with each big byte array replaced by a placeholder, recorded in `swaps`. Only the
 * containers on the way to one are copied; the caller's objects are never changed.
 */
function swapOut(v: unknown, depth: number, swaps: Swap[]): unknown {
  if (!holdsBig(v, depth)) return v;
  if (v instanceof Uint8Array || v instanceof ByteParts) {
    if (v instanceof ByteParts && v.byteLength < SPLICE_MIN_BYTES) return v.toJSON();
    const t = token();
    const pieces = v instanceof ByteParts ? v.parts : [v];
    swaps.push({ token: t, pieces, length: v.byteLength });
    return t;
  }
  if (Array.isArray(v)) return v.map((x: unknown) => swapOut(x, depth + 1, swaps));
  const src = v as Record<string, unknown>;
  const out = (Object.getPrototypeOf(src) === null ? Object.create(null) : {}) as Record<
    string,
    unknown
  >;
  for (const k in src) if (Object.hasOwn(src, k)) out[k] = swapOut(src[k], depth + 1, swaps);
  return out;
}

function binHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = 0xc6;
  h.writeUInt32BE(length, 1);
  return h;
}

function view(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Encodes a message like `encodeFrame`, but leaves big byte arrays (and {@link ByteParts}) where
 * they are: the frame comes back in pieces that reference them. They must not change until the
 * frame is written.
 *
 * @throws ValueTooLargeError above `maxFrameBytes`; InvalidArgumentError when `msg` cannot be
 * encoded.
 * @example
 * ```ts
 * const frame = encodeFrameParts({ t: "msg", m: "put", a: { v: new Uint8Array(1 << 20) } });
 * for (const piece of Array.isArray(frame) ? frame : [frame]) socket.write(piece);
 * ```
 */
export function encodeFrameParts(msg: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Frame {
  const swaps: Swap[] = [];
  const swapped = swapOut(msg, 0, swaps);
  if (swaps.length === 0) return encodeFrame(msg, maxFrameBytes);
  // The placeholders' own 18 bytes each count against the limit here; checked exactly below.
  const frame = encodeFrame(swapped, Number.MAX_SAFE_INTEGER);
  const found = swaps.map((s) => ({ ...s, at: frame.indexOf(s.token) }));
  found.sort((a, b) => a.at - b.at);
  const parts: Buffer[] = [];
  let payload = frame.length - 4;
  let from = 0;
  for (const s of found) {
    // A placeholder is written as `c4 10 <16 bytes>`; anything else means it was not found.
    if (s.at < 2 || frame[s.at - 2] !== 0xc4 || frame[s.at - 1] !== 16) {
      return encodeFrame(msg, maxFrameBytes);
    }
    parts.push(frame.subarray(from, s.at - 2), binHeader(s.length));
    for (const p of s.pieces) if (p.byteLength > 0) parts.push(view(p));
    from = s.at + 16;
    payload += s.length + 5 - 18;
  }
  parts.push(frame.subarray(from));
  if (payload > maxFrameBytes) {
    throw new ValueTooLargeError(
      `message is ${payload} bytes; the frame limit is ${maxFrameBytes}`,
      { details: { bytes: payload, limit: maxFrameBytes } },
    );
  }
  frame.writeUInt32BE(payload, 0); // parts[0] starts with these bytes
  return parts;
}

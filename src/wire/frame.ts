import { Packr, RESERVE_START_SPACE, Unpackr } from "msgpackr";
import {
  BadFrameError,
  InvalidArgumentError,
  ValueTooLargeError,
  ensureError,
} from "../errors/index.js";

/**
 * Framing: every frame is a 4-byte big-endian unsigned length followed by that many bytes holding
 * exactly one msgpack message. Messages are plain objects with a string `t` field; see
 * `messages.ts` for the shapes.
 */

/** Default upper bound on one frame's payload (128 MiB). Larger frames close the connection. */
export const DEFAULT_MAX_FRAME_BYTES = 128 * 1024 * 1024;

/** Bytes of the length prefix. */
const HEADER = 4;

// One shared packer: `pack` is synchronous, so sharing it across connections is safe, and msgpackr
// hands out views into a large scratch buffer it never rewrites, which is what makes encoding cheap.
// `RESERVE_START_SPACE | 4` leaves room for the length prefix so a frame is never copied to prepend it.
const packr = new Packr({ useRecords: false, int64AsType: "number" });
const PACK_WITH_HEADER = RESERVE_START_SPACE | HEADER;

/**
 * Encodes one message as a frame: the 4-byte length followed by the msgpack payload.
 *
 * `Buffer`/`Uint8Array` values travel as msgpack `bin` and come back as `Buffer`s. The returned
 * Buffer may be a view into a shared scratch area; it is never overwritten, so it is safe to hand to
 * `socket.write`, but do not mutate it.
 *
 * @throws ValueTooLargeError when the payload exceeds `maxFrameBytes`; InvalidArgumentError when
 * `msg` cannot be encoded (e.g. it is circular).
 * @example
 * ```ts
 * socket.write(encodeFrame({ t: "msg", m: "ping", a: { at: Date.now() } }));
 * ```
 */
export function encodeFrame(msg: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  let frame: Buffer;
  try {
    frame = packr.pack(msg, PACK_WITH_HEADER);
  } catch (e) {
    // Circular structures overflow the stack, some types have no msgpack form: a caller's mistake.
    throw new InvalidArgumentError(`message cannot be encoded: ${ensureError(e).message}`, {
      cause: e,
    });
  }
  const payload = frame.length - HEADER;
  // Refusing here gives the sender a clear error instead of a BAD_FRAME close from the receiver.
  if (payload > maxFrameBytes) {
    throw new ValueTooLargeError(
      `message is ${payload} bytes; the frame limit is ${maxFrameBytes}`,
      {
        details: { bytes: payload, limit: maxFrameBytes },
      },
    );
  }
  frame.writeUInt32BE(payload, 0);
  return frame;
}

/** A decoded message: a plain object with a string `t` (type) field. */
export interface RawMessage {
  t: string;
  [field: string]: unknown;
}

/** Takes a decoded message and its frame's payload length; `false` stops decoding. */
type Sink = (msg: RawMessage, bytes: number) => boolean | void;

function isMessage(v: unknown): v is RawMessage {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  // Ext types can decode to class instances (Date, Error, typed arrays); only plain maps are messages.
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  return typeof (v as { t?: unknown }).t === "string";
}

/**
 * Incremental frame decoder for a byte stream.
 *
 * Each input byte is copied at most once: frames that lie inside one chunk are decoded in place,
 * and a frame that spans chunks is collected as a list of slices and joined once, when complete.
 * So a 100 MiB frame arriving in 64 KiB reads costs one copy, not a quadratic series of concats.
 *
 * Binary values never alias a socket chunk shared with other frames: those are decoded with
 * msgpackr's `copyBuffers`, so a cached 10-byte value cannot pin a 64 KiB read buffer. Frames that
 * were joined own their buffer outright and are decoded without copying.
 *
 * After `push` throws, the stream is out of sync; discard the decoder (and close the connection).
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
 * socket.on("data", (chunk: Buffer) => {
 *   for (const msg of decoder.push(chunk)) handle(msg);
 * });
 * ```
 */
export class FrameDecoder {
  /** Frames whose declared payload exceeds this are rejected with BAD_FRAME before any buffering. */
  maxFrameBytes: number;
  // Per-decoder unpackers: msgpackr keeps record definitions in the instance, so a peer sending
  // record extensions could otherwise disturb how other connections decode.
  private readonly copying = new Unpackr({
    useRecords: false,
    int64AsType: "number",
    copyBuffers: true,
  });
  private readonly owning = new Unpackr({ useRecords: false, int64AsType: "number" });
  /** Up to 3 bytes of a length prefix that was split across chunks. */
  private head: Buffer | undefined;
  /** Slices of a frame payload that spans chunks, and how many bytes they hold. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Payload length of the frame being collected in `parts`, or -1 when none is. */
  private want = -1;

  constructor(options?: { maxFrameBytes?: number }) {
    this.maxFrameBytes = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes held for incomplete frames. */
  get bufferedBytes(): number {
    return (this.head?.length ?? 0) + this.partBytes;
  }

  /**
   * Feeds the next chunk of the stream and returns the messages it completed, in order.
   *
   * @throws BadFrameError for an oversized length, an undecodable payload or a non-message value.
   */
  push(chunk: Buffer): RawMessage[] {
    const out: RawMessage[] = [];
    this.feed(chunk, (msg) => void out.push(msg));
    return out;
  }

  /**
   * Like {@link push}, but hands each message to `sink` as soon as it is decoded, before the next
   * frame is looked at, with the frame's payload length. So the sink may change {@link maxFrameBytes} between frames (the handshake
   * raises it), messages before a bad frame are acted on before the BadFrameError is thrown, and a
   * sink returning `false` stops decoding (the decoder must then be discarded).
   */
  feed(chunk: Buffer, sink: Sink): void {
    let off = 0;
    if (this.want >= 0) {
      off = this.collect(chunk, sink);
      if (off < 0) return;
    } else if (this.head !== undefined) {
      // Only a split header is copied; it is at most 3 bytes plus the rest of its 4.
      const need = HEADER - this.head.length;
      if (chunk.length < need) {
        this.head = Buffer.concat([this.head, chunk]);
        return;
      }
      const len = Buffer.concat([this.head, chunk.subarray(0, need)]).readUInt32BE(0);
      this.head = undefined;
      off = this.begin(len, chunk, need, sink);
      if (off < 0) return;
    }
    while (chunk.length - off >= HEADER) {
      off = this.begin(chunk.readUInt32BE(off), chunk, off + HEADER, sink);
      if (off < 0) return;
    }
    if (off < chunk.length) this.head = Buffer.from(chunk.subarray(off));
  }

  /**
   * Starts a frame of `len` payload bytes at `start`. If the chunk holds all of it, decodes it in
   * place and returns the offset after it; otherwise starts collecting it. Returns -1 when this
   * chunk is used up or the sink asked to stop.
   */
  private begin(len: number, chunk: Buffer, start: number, sink: Sink): number {
    if (len > this.maxFrameBytes) {
      throw new BadFrameError(`frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes}`, {
        details: { bytes: len, limit: this.maxFrameBytes },
      });
    }
    if (len === 0) throw new BadFrameError("empty frame");
    const end = start + len;
    if (end <= chunk.length) {
      return sink(this.decode(this.copying, chunk, start, end), len) === false ? -1 : end;
    }
    this.want = len;
    this.parts.push(chunk.subarray(start));
    this.partBytes = chunk.length - start;
    return -1;
  }

  /** Adds `chunk` to the frame being collected; returns the offset after it, or -1 as in begin. */
  private collect(chunk: Buffer, sink: Sink): number {
    const need = this.want - this.partBytes;
    if (chunk.length < need) {
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      return -1;
    }
    this.parts.push(chunk.subarray(0, need));
    const payload = Buffer.concat(this.parts, this.want);
    this.parts = [];
    this.partBytes = 0;
    this.want = -1;
    const msg = this.decode(this.owning, payload, 0, payload.length);
    return sink(msg, payload.length) === false ? -1 : need;
  }

  private decode(unpackr: Unpackr, buf: Buffer, start: number, end: number): RawMessage {
    let v: unknown;
    try {
      v = unpackr.unpack(buf, { start, end });
    } catch (e) {
      throw new BadFrameError(`undecodable frame: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
    if (!isMessage(v)) throw new BadFrameError("frame is not a message object with a string `t`");
    return v;
  }
}

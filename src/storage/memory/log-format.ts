import type { FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import { BadEncodingError } from "../../errors/index.js";
import { isTimestamp } from "../../lattice/index.js";

/**
 * One logged operation. `value` is an encoded lattice. Replaying the records in order rebuilds
 * what the store showed (see keyspace.ts for what each one does):
 * - `put`: a merge;
 * - `put-if-absent`: a merge applied only when the key reads as absent at that point of the log;
 * - `delete`: a delete (a counter keeps its floors, see `deletedState`);
 * - `drop`: the key is removed whole (it expired);
 * - `expire`: the key expires at `deadline`, wall-clock milliseconds since the epoch;
 * - `put-if-absent-then`: a `put-if-absent` and, only when it stored, `then` in order (a merge,
 *   or with a null value a delete unless the key holds a last-writer-wins value newer than `ts`):
 *   a transaction's commit record and its write-back as one record.
 */
export type LogRecord =
  | { readonly op: "put" | "put-if-absent"; readonly key: string; readonly value: Uint8Array }
  | { readonly op: "delete" | "drop"; readonly key: string }
  | { readonly op: "expire"; readonly key: string; readonly deadline: number }
  | {
      readonly op: "put-if-absent-then";
      readonly key: string;
      readonly value: Uint8Array;
      readonly then: readonly LoggedThen[];
    };

/** One write of a `put-if-absent-then` record: an encoded lattice to merge, or a delete. */
export type LoggedThen =
  | readonly [key: string, value: Uint8Array]
  | readonly [key: string, value: null, unlessNewer: string];

/** What replaying the log found. */
export interface RecoveryReport {
  records: number;
  /** Bytes of a torn tail (an incomplete last write, left by a crash) that were cut off. */
  truncatedBytes: number;
}

/**
 * A record is a 12-byte header, u32 payload length, u32 crc32 of the payload and u32 crc32 of
 * those first 8 bytes, then the msgpack payload. The header's own checksum lets recovery tell a
 * corrupt length (corruption: refuse to open) from a record cut short by a crash (a torn tail).
 */
export const HEADER = 12;
/** No record is larger: a longer length is corruption, not a torn write. */
const MAX_RECORD = 1 << 30;
const CHUNK = 1 << 20;
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_PUT_IF_ABSENT = 3;
const OP_EXPIRE = 4;
const OP_DROP = 5;
const OP_PUT_IF_ABSENT_THEN = 6;
const packr = new Packr({ useRecords: false, mapsAsObjects: false });

function tuple(rec: LogRecord): unknown[] {
  switch (rec.op) {
    case "put":
      return [OP_PUT, rec.key, rec.value];
    case "put-if-absent":
      return [OP_PUT_IF_ABSENT, rec.key, rec.value];
    case "delete":
      return [OP_DELETE, rec.key];
    case "drop":
      return [OP_DROP, rec.key];
    case "expire":
      return [OP_EXPIRE, rec.key, rec.deadline];
    case "put-if-absent-then":
      return [OP_PUT_IF_ABSENT_THEN, rec.key, rec.value, rec.then];
  }
}

function isLoggedThen(w: unknown): w is LoggedThen {
  if (!Array.isArray(w) || typeof w[0] !== "string") return false;
  return w[1] instanceof Uint8Array || (w[1] === null && isTimestamp(w[2]));
}

export function frame(rec: LogRecord): Buffer {
  const payload = packr.pack(tuple(rec));
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.writeUInt32LE(crc32(out.subarray(0, 8)), 8);
  payload.copy(out, HEADER);
  return out;
}

function parse(payload: Buffer): LogRecord | undefined {
  let a: unknown;
  try {
    a = packr.unpack(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(a) || typeof a[1] !== "string") return undefined;
  const key = a[1];
  switch (a[0]) {
    case OP_PUT:
    case OP_PUT_IF_ABSENT:
      if (!(a[2] instanceof Uint8Array)) return undefined;
      return { op: a[0] === OP_PUT ? "put" : "put-if-absent", key, value: a[2] };
    case OP_DELETE:
      return { op: "delete", key };
    case OP_DROP:
      return { op: "drop", key };
    case OP_EXPIRE:
      if (typeof a[2] !== "number" || !Number.isFinite(a[2])) return undefined;
      return { op: "expire", key, deadline: a[2] };
    case OP_PUT_IF_ABSENT_THEN: {
      const then: unknown = a[3];
      if (!(a[2] instanceof Uint8Array) || !Array.isArray(then) || !then.every(isLoggedThen)) {
        return undefined;
      }
      return { op: "put-if-absent-then", key, value: a[2], then };
    }
    default:
      return undefined;
  }
}

/** Reads a file in chunks, keeping only the bytes from the record being parsed onwards. */
class ChunkReader {
  private buf = Buffer.alloc(0);
  /** File offset of buf[0]. */
  private start = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  /** Bytes [off, off + n) of the file, or undefined when the file ends before. */
  async bytes(off: number, n: number): Promise<Buffer | undefined> {
    if (off + n > this.size) return undefined;
    if (off < this.start || off + n > this.start + this.buf.length) {
      const keep = off >= this.start ? this.buf.subarray(off - this.start) : Buffer.alloc(0);
      const from = off + keep.length;
      const want = Math.min(Math.max(n - keep.length, CHUNK), this.size - from);
      const more = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await this.fh.read(more, got, want - got, from + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      this.buf = Buffer.concat([keep, more.subarray(0, got)]);
      this.start = off;
      if (n > this.buf.length) return undefined;
    }
    return this.buf.subarray(off - this.start, off - this.start + n);
  }

  /** True when every byte from `off` to the end is zero (space a crash allocated, never written). */
  async zeroFrom(off: number): Promise<boolean> {
    for (let at = off; at < this.size; at += CHUNK) {
      const b = await this.bytes(at, Math.min(CHUNK, this.size - at));
      if (b === undefined || b.some((x) => x !== 0)) return false;
    }
    return true;
  }
}

/**
 * Replays a log, streaming it in chunks, and returns where the intact records end.
 *
 * A bad record at the very end is a torn tail, the normal result of a crash mid-write, and is
 * left for the caller to cut off: a header shorter than 12 bytes, a sound header whose payload
 * runs past the end of the file, a last record whose payload checksum fails, or zeros to the end.
 * A bad record with anything after it is corruption: recovery refuses, with a BAD_ENCODING error
 * naming the file and the byte offset, rather than silently dropping every record after it.
 */
export async function recover(
  fh: FileHandle,
  path: string,
  onRecord: (rec: LogRecord) => void,
): Promise<{ end: number; records: number; size: number }> {
  const { size } = await fh.stat();
  const r = new ChunkReader(fh, size);
  let off = 0;
  let records = 0;
  const corrupt = (why: string): BadEncodingError =>
    new BadEncodingError(
      `the log ${path} is corrupt at byte ${off} of ${size}: ${why}; refusing to open it ` +
        "(move it aside or repair it; records before this offset are intact)",
      { details: { path, offset: off, size } },
    );
  for (;;) {
    const head = await r.bytes(off, HEADER);
    if (head === undefined) break; // nothing, or a header cut short: torn tail
    const len = head.readUInt32LE(0);
    if (crc32(head.subarray(0, 8)) !== head.readUInt32LE(8) || len > MAX_RECORD) {
      if (await r.zeroFrom(off)) break;
      throw corrupt("bad record header");
    }
    const payload = await r.bytes(off + HEADER, len);
    if (payload === undefined) break; // the last record was cut short: torn tail
    const last = off + HEADER + len === size;
    if (crc32(payload) !== head.readUInt32LE(4)) {
      if (last) break; // the last write was torn inside its payload
      throw corrupt("payload checksum mismatch");
    }
    const rec = parse(payload);
    if (rec === undefined) throw corrupt("a record that is not a log operation");
    onRecord(rec);
    records++;
    off += HEADER + len;
  }
  return { end: off, records, size };
}

import { open, rename, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import { ClosedError, StorageUnavailableError } from "../../errors/index.js";

/**
 * When an append counts as durable:
 * - `always`: after `fdatasync`; survives power loss. Appends are group-committed, so concurrent
 *   writers share one sync.
 * - `interval`: after `write(2)`; survives a killed process, and the file is synced every
 *   `fsyncIntervalMs`.
 * - `never`: after `write(2)`; survives a killed process, the OS decides when to sync.
 */
export type FsyncPolicy = "always" | "interval" | "never";

/** One logged operation. `value` is an encoded lattice. */
export type LogRecord =
  | { readonly op: "put"; readonly key: string; readonly value: Uint8Array }
  | { readonly op: "delete"; readonly key: string };

/** What replaying the log found. */
export interface RecoveryReport {
  records: number;
  /** Bytes of a torn or corrupt tail that were cut off (a write interrupted by a crash). */
  truncatedBytes: number;
}

const HEADER = 8; // u32 length, u32 crc32 of the payload
const OP_PUT = 1;
const OP_DELETE = 2;
const packr = new Packr({ useRecords: false, mapsAsObjects: false });

function frame(rec: LogRecord): Buffer {
  const payload = packr.pack(
    rec.op === "put" ? [OP_PUT, rec.key, rec.value] : [OP_DELETE, rec.key],
  );
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

function parse(payload: Buffer): LogRecord | undefined {
  const a = packr.unpack(payload) as unknown;
  if (!Array.isArray(a) || typeof a[1] !== "string") return undefined;
  if (a[0] === OP_PUT && a[2] instanceof Uint8Array) return { op: "put", key: a[1], value: a[2] };
  if (a[0] === OP_DELETE) return { op: "delete", key: a[1] };
  return undefined;
}

type Task =
  | { kind: "append"; buf: Buffer; done: (err?: Error) => void }
  | { kind: "rewrite"; records: () => Iterable<LogRecord>; done: (err?: Error) => void };

/**
 * An append-only log of store operations with group commit. Records are length-prefixed and
 * checksummed; a torn tail left by a crash is detected and cut off on the next open.
 */
export class AppendLog {
  private queue: Task[] = [];
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  /** Bytes in the file now. */
  size: number;

  private constructor(
    private fh: FileHandle,
    private readonly path: string,
    private readonly policy: FsyncPolicy,
    fsyncIntervalMs: number,
    size: number,
  ) {
    this.size = size;
    if (policy === "interval") {
      this.timer = setInterval(() => void this.syncIfDirty(), fsyncIntervalMs);
      this.timer.unref();
    }
  }

  /** Opens (creating if needed) and replays the log, calling `onRecord` for every intact record. */
  static async open(
    path: string,
    policy: FsyncPolicy,
    fsyncIntervalMs: number,
    onRecord: (rec: LogRecord) => void,
  ): Promise<{ log: AppendLog; report: RecoveryReport }> {
    await rm(path + ".compact", { force: true });
    const fh = await open(path, "a+");
    const data = await fh.readFile();
    let off = 0;
    let records = 0;
    while (off + HEADER <= data.length) {
      const len = data.readUInt32LE(off);
      const sum = data.readUInt32LE(off + 4);
      if (off + HEADER + len > data.length) break;
      const payload = data.subarray(off + HEADER, off + HEADER + len);
      if (crc32(payload) !== sum) break;
      let rec: LogRecord | undefined;
      try {
        rec = parse(payload);
      } catch {
        rec = undefined;
      }
      if (rec === undefined) break;
      onRecord(rec);
      records++;
      off += HEADER + len;
    }
    const truncatedBytes = data.length - off;
    if (truncatedBytes > 0) {
      await fh.truncate(off);
      await fh.datasync();
    }
    return {
      log: new AppendLog(fh, path, policy, fsyncIntervalMs, off),
      report: { records, truncatedBytes },
    };
  }

  /** Resolves once the record is durable under the log's fsync policy. */
  append(rec: LogRecord): Promise<void> {
    return this.enqueue((done) => ({ kind: "append", buf: frame(rec), done }));
  }

  /**
   * Replaces the log with the records `snapshot()` yields (called when the rewrite runs, after
   * every earlier append is written). The new file is synced and renamed into place, so a crash at
   * any point leaves either the old log or the new one.
   */
  rewrite(snapshot: () => Iterable<LogRecord>): Promise<void> {
    return this.enqueue((done) => ({ kind: "rewrite", records: snapshot, done }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue((done) => ({ kind: "append", buf: Buffer.alloc(0), done }));
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.policy !== "never") await this.fh.datasync();
    await this.fh.close();
  }

  private enqueue(make: (done: (err?: Error) => void) => Task): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError("the store's log is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push(make((err) => (err === undefined ? resolve() : reject(err))));
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      let i = 0;
      while (i < batch.length) {
        // Group consecutive appends into one write (and one sync).
        let j = i;
        const bufs: Buffer[] = [];
        while (j < batch.length && batch[j]?.kind === "append") {
          bufs.push((batch[j] as { buf: Buffer }).buf);
          j++;
        }
        if (j > i) {
          await this.settle(batch.slice(i, j), () => this.writeAll(Buffer.concat(bufs)));
          i = j;
        } else {
          const task = batch[i] as Extract<Task, { kind: "rewrite" }>;
          await this.settle([task], () => this.doRewrite(task.records));
          i++;
        }
      }
    }
    this.running = false;
  }

  private async settle(tasks: Task[], work: () => Promise<void>): Promise<void> {
    try {
      await work();
      for (const t of tasks) t.done();
    } catch (e) {
      const err = new StorageUnavailableError(`log write failed: ${(e as Error).message}`, {
        cause: e,
      });
      for (const t of tasks) t.done(err);
    }
  }

  private async writeAll(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.size += buf.length;
    if (this.policy === "always") await this.fh.datasync();
    else this.dirty = true;
  }

  private async doRewrite(records: () => Iterable<LogRecord>): Promise<void> {
    const tmp = this.path + ".compact";
    const out = await open(tmp, "w");
    let size = 0;
    try {
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const rec of records()) {
        const f = frame(rec);
        chunk.push(f);
        chunkBytes += f.length;
        if (chunkBytes >= 1 << 20) {
          await out.write(Buffer.concat(chunk));
          size += chunkBytes;
          chunk = [];
          chunkBytes = 0;
        }
      }
      if (chunkBytes > 0) await out.write(Buffer.concat(chunk));
      size += chunkBytes;
      await out.datasync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    await this.fh.close();
    this.fh = await open(this.path, "a+");
    this.size = size;
    this.dirty = false;
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    try {
      await this.fh.datasync();
    } catch {
      this.dirty = true;
    }
  }
}

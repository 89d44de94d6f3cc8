import { open, rename, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { ClosedError, StorageUnavailableError } from "../../errors/index.js";
import { frame, recover } from "./log-format.js";
import type { LogRecord, RecoveryReport } from "./log-format.js";
import { LogLock } from "./log-lock.js";

export type { LogRecord, RecoveryReport } from "./log-format.js";

/**
 * When an append counts as durable:
 * - `always`: after `fdatasync`; survives power loss. Appends are group-committed, so concurrent
 *   writers share one sync.
 * - `interval`: after `write(2)`; survives a killed process, and the file is synced every
 *   `fsyncIntervalMs`.
 * - `never`: after `write(2)`; survives a killed process, the OS decides when to sync.
 */
export type FsyncPolicy = "always" | "interval" | "never";

type Done = (err?: Error) => void;
type Task =
  | { kind: "append"; buf: Buffer; apply: () => void; done: Done }
  | { kind: "rewrite"; records: () => Iterable<LogRecord>; done: Done };

/**
 * An append-only log of store operations with group commit. Records are length-prefixed and
 * checksummed (see log-format.ts); one process at a time may open a log (see log-lock.ts).
 *
 * **A failed write stops the log (fail-stop).** When a write or a sync fails (ENOSPC, EIO, …),
 * the appends of that batch reject, the file is cut back to the end of the last good record (best
 * effort: what cannot be cut is a torn tail that the next open cuts), and every later append
 * rejects with STORAGE_UNAVAILABLE naming the first failure, until the store is reopened. Going
 * on after a failed sync is not safe (the kernel may have dropped the dirty pages while reporting
 * the error only once), and a half-written record followed by good ones would read as corruption.
 * An acknowledged append is therefore always one that recovery replays.
 *
 * A failed compaction (rewrite) before its rename leaves the old log in place and usable.
 *
 * @example
 * ```ts
 * const { log, report } = await AppendLog.open("./data.log", "always", 1000, (rec) => apply(rec));
 * await log.append({ op: "delete", key: "k" }, () => data.delete("k"));
 * await log.close();
 * ```
 */
export class AppendLog {
  private queue: Task[] = [];
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  /** The first write failure; once set, the log accepts nothing more. */
  private failure: StorageUnavailableError | undefined;
  /** Bytes in the file now. */
  size: number;

  private constructor(
    private fh: FileHandle,
    private readonly path: string,
    private readonly lock: LogLock,
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

  /**
   * Locks, opens (creating if needed) and replays the log, calling `onRecord` for every intact
   * record. A torn tail is cut off and reported; corruption before the tail rejects with
   * BAD_ENCODING (naming the file and offset); a log open in another process rejects with
   * STORAGE_UNAVAILABLE (not retryable).
   */
  static async open(
    path: string,
    policy: FsyncPolicy,
    fsyncIntervalMs: number,
    onRecord: (rec: LogRecord) => void,
  ): Promise<{ log: AppendLog; report: RecoveryReport }> {
    const lock = await LogLock.acquire(path);
    let fh: FileHandle | undefined;
    try {
      await rm(path + ".compact", { force: true });
      fh = await open(path, "a+");
      const { end, records, size } = await recover(fh, path, onRecord);
      if (size > end) {
        await fh.truncate(end);
        await fh.datasync();
      }
      return {
        log: new AppendLog(fh, path, lock, policy, fsyncIntervalMs, end),
        report: { records, truncatedBytes: size - end },
      };
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await lock.release();
      throw e;
    }
  }

  /**
   * Appends a record and, once it is durable under the log's fsync policy, calls `apply` and
   * resolves with what it returns (rejects with what it throws). Appends are applied one by one
   * in the order they were made, which is their order in the file, and before any later rewrite
   * takes its snapshot: what the caller applies replays from the file exactly. A record that
   * could not be written is never applied.
   */
  append<T>(rec: LogRecord, apply: () => T): Promise<T> {
    const buf = frame(rec);
    return new Promise<T>((resolve, reject) => {
      let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
      this.enqueue((done) => ({
        kind: "append",
        buf,
        apply: () => {
          try {
            result = { ok: true, value: apply() };
          } catch (e) {
            result = { ok: false, error: e };
          }
        },
        done,
      })).then(() => {
        if (result?.ok === true) resolve(result.value);
        else
          reject(result?.error instanceof Error ? result.error : new Error(String(result?.error)));
      }, reject);
    });
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
    // Waits for queued appends (they settle either way); a failed log has nothing left to sync.
    const nothing = (): void => undefined;
    await this.enqueue((done) => ({
      kind: "append",
      buf: Buffer.alloc(0),
      apply: nothing,
      done,
    })).catch(() => undefined);
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    try {
      if (this.policy !== "never" && this.failure === undefined) await this.fh.datasync();
    } finally {
      await this.fh.close();
      await this.lock.release();
    }
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
    if (this.failure !== undefined) {
      for (const t of tasks) t.done(this.failure);
      return;
    }
    try {
      await work();
      // Applied here, one after another with nothing in between: callers see the records take
      // effect in file order, and a rewrite queued next snapshots every one of them.
      for (const t of tasks) {
        if (t.kind === "append") t.apply();
        t.done();
      }
    } catch (e) {
      const err =
        e instanceof StorageUnavailableError
          ? e
          : new StorageUnavailableError(`log write failed: ${(e as Error).message}`, {
              cause: e,
            });
      for (const t of tasks) t.done(err);
    }
  }

  /** Enters the failed state, cutting the file back to its last good record if it can. */
  private async fail(e: unknown, what: string): Promise<never> {
    this.failure ??= new StorageUnavailableError(
      `the log ${this.path} stopped after a failed ${what} (${(e as Error).message}); ` +
        "it accepts no more writes until the store is reopened",
      { cause: e, retryable: false, details: { path: this.path } },
    );
    await this.fh.truncate(this.size).catch(() => undefined);
    throw this.failure;
  }

  private async writeAll(buf: Buffer): Promise<void> {
    let off = 0;
    try {
      while (off < buf.length) {
        const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
    } catch (e) {
      return this.fail(e, "write");
    }
    try {
      if (this.policy === "always") await this.fh.datasync();
      else this.dirty = true;
    } catch (e) {
      return this.fail(e, "sync");
    }
    this.size += buf.length;
  }

  private async doRewrite(records: () => Iterable<LogRecord>): Promise<void> {
    const tmp = this.path + ".compact";
    let size = 0;
    try {
      const out = await open(tmp, "w");
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
    } catch (e) {
      // The old log is untouched: drop the half-written copy and carry on with it.
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new StorageUnavailableError(`log compaction failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      await rename(tmp, this.path);
      const dir = await open(dirname(this.path), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      await this.fh.close();
      this.fh = await open(this.path, "a+");
    } catch (e) {
      // Which file the handle points at is no longer certain: stop rather than guess.
      this.size = size;
      return this.fail(e, "compaction rename");
    }
    this.size = size;
    this.dirty = false;
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty || this.closed || this.failure !== undefined) return;
    this.dirty = false;
    try {
      await this.fh.datasync();
    } catch (e) {
      await this.fail(e, "periodic sync").catch(() => undefined);
    }
  }
}

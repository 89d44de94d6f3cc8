import { createRequire } from "node:module";
import { open, readFile, rm, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { StorageUnavailableError } from "../../errors/index.js";

/** The part of `fs-native-extensions` used here. */
interface FileLocks {
  /** An exclusive lock on the whole file without waiting; false when another holds one. */
  tryLock(fd: number): boolean;
}

let locks: FileLocks | undefined;

/** Loaded on first use: only stores with a log need the native addon. */
function fileLocks(): FileLocks {
  locks ??= createRequire(import.meta.url)("fs-native-extensions") as FileLocks;
  return locks;
}

function unavailable(message: string, details: Record<string, unknown>, cause?: unknown) {
  return new StorageUnavailableError(message, {
    retryable: false,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * An exclusive claim on a log file: an OS lock on `<path>.lock` (an open-file-description lock,
 * `F_OFD_SETLK`, on Linux; `flock` on macOS; `LockFileEx` on Windows). Two writers appending to
 * one log would interleave records and corrupt it, so a second opener is refused, in this process
 * or another.
 *
 * The lock belongs to the open file, not to a process id: when the holder dies, however it dies
 * (SIGKILL, a crash, the OOM killer), the OS closes its files and the lock is free. Nothing is
 * judged stale from a PID, which another process may have again (a container restarted after a
 * crash runs as PID 1 once more). The file holds the holder's PID only to name it in the error a
 * second opener gets.
 *
 * Release removes the file while still holding the lock. An opener that opened the file just
 * before may then lock that removed file; it checks, after locking, that the path still names the
 * file it locked, and starts over when not.
 *
 * @example
 * ```ts
 * const lock = await LogLock.acquire("/var/lib/stratus.log");
 * await lock.release();
 * ```
 */
export class LogLock {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  static async acquire(logPath: string): Promise<LogLock> {
    const path = logPath + ".lock";
    const details = { path: logPath, lock: path };
    for (let round = 0; round < 8; round++) {
      let fh: FileHandle;
      try {
        fh = await open(path, "a+");
      } catch (e) {
        throw unavailable(`cannot open the lock file ${path}: ${String(e)}`, details, e);
      }
      let locked: boolean;
      try {
        locked = fileLocks().tryLock(fh.fd);
      } catch (e) {
        await fh.close();
        throw unavailable(
          `cannot lock ${path} (${String(e)}); a log needs OS file locks`,
          details,
          e,
        );
      }
      if (!locked) {
        await fh.close();
        const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
        const who = Number.isInteger(owner) && owner > 0 ? `process ${owner}` : "another process";
        throw unavailable(
          `the log ${logPath} is in use by ${who} (lock file ${path}); ` +
            "only one process may open a log",
          Number.isInteger(owner) && owner > 0 ? { ...details, pid: owner } : details,
        );
      }
      const [mine, named] = await Promise.all([fh.stat(), stat(path).catch(() => undefined)]);
      if (named === undefined || named.ino !== mine.ino || named.dev !== mine.dev) {
        await fh.close(); // locked a file its holder removed on release: try the new one
        continue;
      }
      try {
        await fh.truncate(0);
        await fh.write(`${process.pid}\n`);
      } catch {
        // The PID only names the holder in other openers' errors; the lock is what counts.
      }
      return new LogLock(path, fh);
    }
    throw unavailable(`the log ${logPath} kept changing hands; try again`, details);
  }

  async release(): Promise<void> {
    try {
      await rm(this.path, { force: true });
    } finally {
      await this.fh.close();
    }
  }
}

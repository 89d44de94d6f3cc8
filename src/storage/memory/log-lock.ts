import { readFile, rm, writeFile } from "node:fs/promises";
import { StorageUnavailableError } from "../../errors/index.js";

/** True when a process with this id exists (EPERM: it exists but belongs to someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive claim on a log file: `<path>.lock`, created with O_EXCL and holding the owner's
 * PID. Two writers appending to one log would interleave records and corrupt it, so a second
 * opener is refused, in this process or another. A lock left by a process that died (its PID no
 * longer exists) is stale and taken over.
 *
 * @example
 * ```ts
 * const lock = await LogLock.acquire("/var/lib/stratus.log");
 * await lock.release();
 * ```
 */
export class LogLock {
  private constructor(readonly path: string) {}

  static async acquire(logPath: string): Promise<LogLock> {
    const path = logPath + ".lock";
    // Two rounds: the second after removing a stale lock (another opener may win that race).
    for (let round = 0; round < 2; round++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: "wx" });
        return new LogLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new StorageUnavailableError(`cannot create the lock file ${path}: ${String(e)}`, {
            cause: e,
            retryable: false,
            details: { path },
          });
        }
      }
      const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      // A lock file whose writer died before writing its PID holds no number: stale as well.
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new StorageUnavailableError(
          `the log ${logPath} is in use by process ${owner} (lock file ${path}); ` +
            "only one process may open a log",
          { retryable: false, details: { path: logPath, lock: path, pid: owner } },
        );
      }
      await rm(path, { force: true });
    }
    throw new StorageUnavailableError(`the log ${logPath} was locked by another opener meanwhile`, {
      retryable: false,
      details: { path: logPath, lock: path },
    });
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

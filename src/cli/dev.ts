import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { dirname, resolve, sep } from "node:path";

/** Options of {@link watchAndDeploy}. */
export interface DevOptions {
  /** The module to deploy. */
  file: string;
  /** Deploys it once; a throw is reported and the loop goes on to the next save. */
  deploy(): Promise<unknown>;
  /** Told of every deploy's outcome. */
  report(outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void;
  /** Saves closer together than this make one deploy. @default 100 */
  debounceMs?: number;
  /** Aborting it stops watching; the promise then resolves. */
  signal: AbortSignal;
}

/**
 * Deploys a module now and again after every save under its folder (editors write a file
 * several times, or replace it, per save: those changes are debounced into one deploy, and a
 * save during a deploy makes one more after it). `node_modules` and dot-folders are ignored.
 *
 * @example
 * ```ts
 * await watchAndDeploy({ file, deploy: () => deploy(cloud, file), report: console.log, signal });
 * ```
 */
export async function watchAndDeploy(o: DevOptions): Promise<void> {
  const debounceMs = o.debounceMs ?? 100;
  const folder = dirname(resolve(o.file));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const once = async (): Promise<void> => {
    try {
      o.report({ ok: true, value: await o.deploy() });
    } catch (error) {
      o.report({ ok: false, error });
    }
  };
  const deployNow = (): void => {
    if (running !== undefined) {
      again = true;
      return;
    }
    running = once().finally(() => {
      running = undefined;
      if (again && !o.signal.aborted) {
        again = false;
        deployNow();
      }
    });
  };
  const changed = (name: string | null): void => {
    if (name !== null && ignored(name)) return;
    clearTimeout(timer);
    timer = setTimeout(deployNow, debounceMs);
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(folder, { recursive: true }, (_e, name) => changed(name));
  } catch {
    // A platform without recursive watching: the folder itself is still watched.
    watcher = watch(folder, (_e, name) => changed(name));
  }
  deployNow();
  await new Promise<void>((done) => {
    const stop = (): void => {
      clearTimeout(timer);
      watcher.close();
      void (running ?? Promise.resolve()).then(done);
    };
    if (o.signal.aborted) stop();
    else o.signal.addEventListener("abort", stop, { once: true });
  });
}

function ignored(name: string): boolean {
  return name.split(sep).some((part) => part === "node_modules" || part.startsWith("."));
}

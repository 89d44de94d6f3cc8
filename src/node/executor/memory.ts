/**
 * The external-memory limit, enforced inside the worker. V8's `resourceLimits` bound the JS heap
 * only: the bytes behind Buffers, ArrayBuffers and typed arrays live outside it, so without this
 * one function could allocate until the whole process is killed by the kernel.
 *
 * What Node 20 offers, and why this shape: the worker's own `v8.getHeapStatistics()` reports its
 * isolate's `external_memory` (about 2 µs to read), but only code running in that worker can read
 * it (`Worker.getHeapStatistics()` from the main thread arrived in Node 22), and a watchdog timer
 * in the worker cannot run while user code loops synchronously. So the check runs where user code
 * must pass anyway:
 *
 * - in the allocators themselves: the global `ArrayBuffer`, `SharedArrayBuffer`, every typed
 *   array constructor and `Buffer.alloc` / `allocUnsafe` / `allocUnsafeSlow` / `from` / `concat`
 *   are wrapped; so are the methods that make a new array out of an old one without going
 *   through a global constructor (`slice`, `map`, `filter`, `toSorted`, `toReversed`, `with`,
 *   `from`, `of` of typed arrays, and `ArrayBuffer.prototype.slice`): a request that would cross
 *   the limit is refused before it is made, and allocations are re-checked once every MiB of them;
 * - at every host call (`ctx.get`, `ctx.put`, `ctx.call`, …) and at the end of every invocation;
 * - on a timer, for async code that allocates by other means (`TextEncoder`, `fs`, `zlib`).
 *
 * Over the limit, the worker exits with {@link EXTERNAL_OOM_EXIT}: the pool fails the running
 * calls with `FUNCTION_OOM` and replaces the worker, as for a heap overflow.
 *
 * Several invocations in one worker (a function's `concurrency`): the limit stays a limit per
 * invocation, and the worker's is that times the invocations running at the moment (at least
 * one). V8 reports one isolate's figure and async code of several invocations interleaves, so
 * whose bytes are whose cannot be told cheaply; every invocation running when the worker goes
 * over fails with `FUNCTION_OOM`. The pool scales the V8 heap limit the same way (see
 * ExecutorPoolOptions.maxConcurrency). A function that needs its limit to the byte, or must not
 * share a failure, registers with `concurrency: 1`: alone in its worker, nothing changes. A synchronous loop that
 * allocates only through unwrapped natives (`TextEncoder.encode` in a `for (;;)`) is the case left
 * uncovered; workers isolate failures, not trust, and a hostile function has other ways out.
 */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** The exit code of a worker that went over its external-memory limit. */
export const EXTERNAL_OOM_EXIT = 0x6d; // "m"

/** Allocations smaller than this are only counted; the real figure is read once per MiB. */
const RECHECK_BYTES = 1024 * 1024;
const TIMER_MS = 100;

const TYPED = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
] as const;

/**
 * A full garbage collection, when V8 lets us have one: `--expose-gc` set now only affects contexts
 * made from now on, so a fresh context hands us its `gc`.
 */
const collect = ((): (() => void) | undefined => {
  // The pool sets --expose-gc before it starts any worker, so a worker's own global has gc.
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return own as () => void;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    // Not turned off again: another worker starting at the same moment would lose its gc. So
    // contexts made later may have a global gc; registration refuses it (not an executor global).
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

/** Guards one worker's external memory. */
export class MemoryGuard {
  private sinceCheck = 0;

  /**
   * @param limit bytes of external memory user code may hold now (it follows the number of
   *   invocations running: see the worker)
   * @param own bytes the executor itself holds (its value cache), not charged to user code
   * @param exit ends the worker (process.exit in a worker ends only that thread)
   */
  constructor(
    private readonly limit: () => number,
    private readonly own: () => number,
    private readonly exit: (code: number) => never,
  ) {}

  /** External bytes held by user code now. */
  used(): number {
    return getHeapStatistics().external_memory - this.own();
  }

  /**
   * Ends the worker if user code holds more than the limit, or would with `more` bytes. Buffers
   * that are garbage but not yet collected still count in V8's figure, so before giving up a full
   * collection runs and the figure is read again: only memory really held fails a call.
   */
  check(more = 0): void {
    this.sinceCheck = 0;
    const limit = this.limit();
    if (this.used() + more <= limit) return;
    collect?.();
    if (this.used() + more > limit) this.exit(EXTERNAL_OOM_EXIT);
  }

  /** Counts an allocation of `bytes` that has happened; reads the real figure now and then. */
  private counted(bytes: number): void {
    this.sinceCheck += bytes;
    if (this.sinceCheck >= RECHECK_BYTES) this.check();
  }

  /** Wraps the allocators of `global` and starts the timer. Call once, before user code runs. */
  install(global: typeof globalThis): void {
    const g = global as unknown as Record<string, unknown>;
    for (const name of ["ArrayBuffer", "SharedArrayBuffer", ...TYPED]) {
      const ctor = g[name];
      if (typeof ctor === "function") g[name] = this.wrapConstructor(ctor as new () => object);
    }
    const B = global.Buffer as unknown as Record<string, unknown>;
    for (const name of ["alloc", "allocUnsafe", "allocUnsafeSlow", "from", "concat"]) {
      const f = B[name];
      if (typeof f === "function") B[name] = this.wrapFunction(f as () => unknown);
    }
    this.wrapCopies(global);
    setInterval(() => this.check(), TIMER_MS).unref();
  }

  /**
   * Methods that allocate a new array from an existing one. V8 makes their result through its
   * own intrinsics, not the wrapped globals, so a `slice()` of a big tensor (the README asks for
   * one before changing a shared tensor) went unchecked. The check uses the source's size, which
   * bounds what the copy can take (`map`, `slice`, `toSorted`, ...) or is an upper bound of it
   * (`filter`, a partial `slice`).
   */
  private wrapCopies(global: typeof globalThis): void {
    const typed = Object.getPrototypeOf(global.Uint8Array) as Record<string, unknown> & {
      prototype: Record<string, unknown>;
    };
    const bytesOf = (self: unknown): number => {
      const b = (self as { byteLength?: unknown } | undefined)?.byteLength;
      return typeof b === "number" ? b : 0;
    };
    for (const name of ["slice", "map", "filter", "toSorted", "toReversed", "with"]) {
      const f = typed.prototype[name];
      if (typeof f === "function") {
        typed.prototype[name] = this.wrapMethod(f as () => unknown, (self) => bytesOf(self));
      }
    }
    for (const name of ["from", "of"]) {
      const f = typed[name];
      if (typeof f === "function") {
        typed[name] = this.wrapMethod(f as () => unknown, (self, args) => {
          const per = (self as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
          const src = args[0] as { length?: unknown } | undefined;
          const n = name === "of" ? args.length : typeof src?.length === "number" ? src.length : 0;
          return n * per;
        });
      }
    }
    for (const ctor of [global.ArrayBuffer, global.SharedArrayBuffer]) {
      const proto = (ctor as unknown as { prototype?: Record<string, unknown> }).prototype;
      const f = proto?.slice;
      if (proto !== undefined && typeof f === "function") {
        proto.slice = this.wrapMethod(f as () => unknown, (self) => bytesOf(self));
      }
    }
  }

  /** `f` with a check of the bytes its result can take (`size`) before it runs. */
  private wrapMethod(
    f: (...a: unknown[]) => unknown,
    size: (self: unknown, args: unknown[]) => number,
  ): (...a: unknown[]) => unknown {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const guard = this;
    // A plain function, not a Proxy: V8's fast paths for these built-ins stay for small arrays.
    return {
      [f.name](this: unknown, ...args: unknown[]): unknown {
        const n = size(this, args);
        if (n >= RECHECK_BYTES) guard.check(n);
        const made = f.apply(this, args);
        const bytes = (made as { byteLength?: unknown } | undefined)?.byteLength;
        if (typeof bytes === "number") guard.counted(bytes);
        return made;
      },
    }[f.name] as (...a: unknown[]) => unknown;
  }

  private wrapConstructor(ctor: new (...a: unknown[]) => object): unknown {
    const per = (ctor as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    return new Proxy(ctor, {
      construct: (target, args, newTarget) => {
        const n: unknown = args[0];
        if (typeof n === "number" && n >= RECHECK_BYTES) this.check(n * per);
        const made = Reflect.construct(target, args, newTarget) as unknown;
        const bytes = (made as { byteLength?: unknown }).byteLength;
        if (typeof bytes === "number") this.counted(bytes);
        return made as object;
      },
    });
  }

  private wrapFunction(f: (...a: unknown[]) => unknown): unknown {
    return new Proxy(f, {
      apply: (target, self, args) => {
        const n: unknown = args[0];
        if (typeof n === "number" && n >= RECHECK_BYTES) this.check(n);
        const made: unknown = Reflect.apply(target, self, args);
        const bytes = (made as { byteLength?: unknown } | undefined)?.byteLength;
        if (typeof bytes === "number") this.counted(bytes);
        return made;
      },
    });
  }
}

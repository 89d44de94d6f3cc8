/** Options of {@link Mailboxes}. */
export interface MailboxOptions {
  /** Messages kept per recipient before the oldest is dropped. @default 10000 */
  maxPerBox?: number;
  /** How long messages for a recipient that is not running are kept. @default 30000 */
  orphanTtlMs?: number;
}

interface Box {
  queue: Uint8Array[];
  waiters: ((m: Uint8Array | undefined) => void)[];
  live: boolean;
  expires: number;
}

/**
 * Messages between running functions, by invocation id. A message may arrive before its
 * recipient asks for it (kept in order) or for an id that is not running here yet (kept for
 * `orphanTtlMs`, then dropped).
 *
 * @example
 * ```ts
 * const boxes = new Mailboxes();
 * boxes.open("n1.7");
 * boxes.deliver("n1.7", bytes);
 * await boxes.take("n1.7", 1000); // bytes
 * ```
 */
export class Mailboxes {
  private readonly boxes = new Map<string, Box>();
  private readonly maxPerBox: number;
  private readonly orphanTtlMs: number;
  private sweeps = 0;

  constructor(options: MailboxOptions = {}) {
    this.maxPerBox = options.maxPerBox ?? 10_000;
    this.orphanTtlMs = options.orphanTtlMs ?? 30_000;
  }

  open(id: string): void {
    const b = this.boxes.get(id);
    if (b !== undefined) b.live = true;
    else this.boxes.set(id, { queue: [], waiters: [], live: true, expires: 0 });
  }

  close(id: string): void {
    const b = this.boxes.get(id);
    if (b === undefined) return;
    for (const w of b.waiters) w(undefined);
    this.boxes.delete(id);
  }

  deliver(id: string, msg: Uint8Array): void {
    let b = this.boxes.get(id);
    if (b === undefined) {
      if (++this.sweeps % 1024 === 0) this.sweep();
      b = { queue: [], waiters: [], live: false, expires: Date.now() + this.orphanTtlMs };
      this.boxes.set(id, b);
    }
    const w = b.waiters.shift();
    if (w !== undefined) return w(msg);
    b.queue.push(msg);
    if (b.queue.length > this.maxPerBox) b.queue.shift();
  }

  /** Removes and returns what is buffered for `id`. */
  drain(id: string): Uint8Array[] {
    const b = this.boxes.get(id);
    if (b === undefined) return [];
    this.boxes.delete(id);
    return b.queue;
  }

  /** The next message for `id`, or `undefined` when none arrives within `timeoutMs`. */
  take(id: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    const b = this.boxes.get(id);
    if (b === undefined) return Promise.resolve(undefined);
    const m = b.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => {
      const waiter = (x: Uint8Array | undefined): void => {
        clearTimeout(timer);
        resolve(x);
      };
      const timer = setTimeout(() => {
        const i = b.waiters.indexOf(waiter);
        if (i >= 0) b.waiters.splice(i, 1);
        resolve(undefined);
      }, timeoutMs);
      b.waiters.push(waiter);
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, b] of this.boxes) if (!b.live && b.expires < now) this.boxes.delete(id);
  }
}

/** Options of {@link Mailboxes}. */
export interface MailboxOptions {
  /** Messages kept per recipient before the oldest is dropped. @default 10000 */
  maxPerBox?: number;
  /** How long messages for a recipient that is not running here are kept. @default 30000 */
  orphanTtlMs?: number;
}

/** A buffered message, with its sender and sequence number when it came from this node. */
export interface Letter {
  m: Uint8Array;
  from?: string;
  seq?: number;
}

interface Box {
  letters: Letter[];
  expires: number;
}

/**
 * Messages for invocation ids the executors do not hold (yet): a message can overtake the
 * trigger of its recipient. They wait here, in order, for `orphanTtlMs`; when the invocation
 * starts, the node drains them into the executor pool, which pushes them to the worker.
 *
 * @example
 * ```ts
 * const boxes = new Mailboxes();
 * boxes.deliver("n1.7", { m: bytes });
 * boxes.drain("n1.7"); // [{ m: bytes }]
 * ```
 */
export class Mailboxes {
  private readonly boxes = new Map<string, Box>();
  private readonly maxPerBox: number;
  private readonly orphanTtlMs: number;
  private arrivals = 0;

  constructor(options: MailboxOptions = {}) {
    this.maxPerBox = options.maxPerBox ?? 10_000;
    this.orphanTtlMs = options.orphanTtlMs ?? 30_000;
  }

  deliver(id: string, letter: Letter): void {
    if (++this.arrivals % 1024 === 0) this.sweep();
    let b = this.boxes.get(id);
    if (b === undefined) {
      b = { letters: [], expires: Date.now() + this.orphanTtlMs };
      this.boxes.set(id, b);
    }
    b.letters.push(letter);
    if (b.letters.length > this.maxPerBox) b.letters.shift();
  }

  /** Removes and returns what is buffered for `id`, oldest first. */
  drain(id: string): Letter[] {
    const b = this.boxes.get(id);
    if (b === undefined) return [];
    this.boxes.delete(id);
    return b.letters;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, b] of this.boxes) if (b.expires < now) this.boxes.delete(id);
  }
}

/** Options of {@link Mailboxes}. */
export interface MailboxOptions {
  /** Messages kept per recipient before the oldest is dropped. @default 10000 */
  maxPerBox?: number;
  /** How long messages for a recipient that is not running here are kept. @default 30000 */
  orphanTtlMs?: number;
  /** Bytes of messages kept in all, for recipients not running here. @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** Recipients not running here that may have messages waiting. @default 10000 */
  maxBoxes?: number;
}

/** A buffered message, with its sender and sequence number when it came from this node. */
export interface Letter {
  m: Uint8Array;
  from?: string;
  seq?: number;
}

interface Box {
  letters: Letter[];
  bytes: number;
  expires: number;
}

/**
 * Messages for invocation ids the executors do not hold (yet): a message can overtake the
 * trigger of its recipient. They wait here, in order, for `orphanTtlMs`; when the invocation
 * starts, the node drains them into the executor pool, which pushes them to the worker. What
 * waits is bounded in bytes and in recipients: past either bound a message is refused (`deliver`
 * answers false), since messages to ids that never run would otherwise pile up until they expire.
 *
 * @example
 * ```ts
 * const boxes = new Mailboxes();
 * boxes.deliver("n1.7", { m: bytes }); // true
 * boxes.drain("n1.7"); // [{ m: bytes }]
 * ```
 */
export class Mailboxes {
  private readonly boxes = new Map<string, Box>();
  private readonly maxPerBox: number;
  private readonly orphanTtlMs: number;
  private readonly maxBytes: number;
  private readonly maxBoxes: number;
  private bytes = 0;
  private arrivals = 0;
  /** Messages refused for the bounds. */
  refused = 0;

  constructor(options: MailboxOptions = {}) {
    this.maxPerBox = options.maxPerBox ?? 10_000;
    this.orphanTtlMs = options.orphanTtlMs ?? 30_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxBoxes = options.maxBoxes ?? 10_000;
  }

  /** Bytes of messages waiting. */
  get size(): { boxes: number; bytes: number } {
    return { boxes: this.boxes.size, bytes: this.bytes };
  }

  /** Keeps `letter` for `id`; false when the bounds refuse it. */
  deliver(id: string, letter: Letter): boolean {
    if (++this.arrivals % 1024 === 0) this.sweep();
    let b = this.boxes.get(id);
    if (b === undefined) {
      if (this.boxes.size >= this.maxBoxes) this.sweep();
      if (this.boxes.size >= this.maxBoxes) return this.refuse();
      b = { letters: [], bytes: 0, expires: Date.now() + this.orphanTtlMs };
      this.boxes.set(id, b);
    }
    const n = letter.m.byteLength;
    if (this.bytes + n > this.maxBytes) {
      this.sweep();
      if (this.bytes + n > this.maxBytes) {
        if (b.letters.length === 0) this.boxes.delete(id);
        return this.refuse();
      }
    }
    b.letters.push(letter);
    b.bytes += n;
    this.bytes += n;
    if (b.letters.length > this.maxPerBox) {
      const old = b.letters.shift()!;
      b.bytes -= old.m.byteLength;
      this.bytes -= old.m.byteLength;
    }
    return true;
  }

  /** Removes and returns what is buffered for `id`, oldest first. */
  drain(id: string): Letter[] {
    const b = this.boxes.get(id);
    if (b === undefined) return [];
    this.boxes.delete(id);
    this.bytes -= b.bytes;
    return b.letters;
  }

  private refuse(): false {
    this.refused++;
    return false;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, b] of this.boxes) {
      if (b.expires >= now) continue;
      this.boxes.delete(id);
      this.bytes -= b.bytes;
    }
  }
}

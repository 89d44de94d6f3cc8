/**
 * Worker-side state shared by every invocation's ctx: the messages pushed to invocations (so
 * `recv` is served without asking the main thread) and a byte-bounded cache of stored values by
 * key and version (so a hot `get` moves no bytes between threads).
 */

interface Box {
  queue: Uint8Array[];
  waiter: ((m: Uint8Array | undefined) => void) | undefined;
  /** Per sender: the next sequence number due, and any that arrived early. */
  next?: Map<string, number>;
  held?: Map<string, Map<number, Uint8Array>>;
}

/** Messages for invocations of this worker, in arrival order. */
export class Inboxes {
  private readonly boxes = new Map<string, Box>();

  private box(id: string): Box {
    let b = this.boxes.get(id);
    if (b === undefined) {
      b = { queue: [], waiter: undefined };
      this.boxes.set(id, b);
    }
    return b;
  }

  /**
   * Adds a message. Messages from one sender on this node carry sequence numbers: they may come
   * through the main thread or straight from the sender's worker, and are put back in order here.
   */
  deliver(id: string, m: Uint8Array, from?: string, seq?: number): void {
    const b = this.box(id);
    if (from === undefined || seq === undefined) return this.push(b, m);
    b.next ??= new Map();
    const due = b.next.get(from) ?? 1;
    if (seq < due) return; // already delivered
    if (seq > due) {
      b.held ??= new Map();
      let h = b.held.get(from);
      if (h === undefined) b.held.set(from, (h = new Map<number, Uint8Array>()));
      h.set(seq, m);
      return;
    }
    this.push(b, m);
    let n = due + 1;
    const h = b.held?.get(from);
    for (let x = h?.get(n); x !== undefined; x = h?.get(n)) {
      h?.delete(n);
      this.push(b, x);
      n++;
    }
    b.next.set(from, n);
  }

  private push(b: Box, m: Uint8Array): void {
    const w = b.waiter;
    if (w !== undefined) {
      b.waiter = undefined;
      w(m);
    } else {
      b.queue.push(m);
    }
  }

  /** The next message, or `undefined` after `timeoutMs`. One waiter per invocation at a time. */
  take(id: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    const b = this.box(id);
    const m = b.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (b.waiter === done) b.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      const done = (x: Uint8Array | undefined): void => {
        clearTimeout(timer);
        resolve(x);
      };
      b.waiter?.(undefined);
      b.waiter = done;
    });
  }

  /** The invocation ended: its unread messages go with it. */
  drop(id: string): void {
    this.boxes.get(id)?.waiter?.(undefined);
    this.boxes.delete(id);
  }
}

/**
 * A cached value: its bytes, or, for a typed array (tensors, vectors), the decoded array itself,
 * which a get copies with `slice()`: a memcpy instead of a decode, and the caller still owns what
 * it gets.
 */
export type Cached =
  { bytes: Uint8Array; typed?: undefined } | { typed: TypedArray; bytes?: undefined };

/** What the cache needs of a typed array: its memory, and a copy. */
export interface TypedArray {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly byteLength: number;
  slice(): unknown;
}

interface Entry {
  version: string;
  value: Cached;
  size: number;
  /** The instance shared gets hand out (a copy of `value.typed`, which nobody else sees). */
  shared?: TypedArray;
}

const bytesOf = (t: TypedArray): Buffer => Buffer.from(t.buffer, t.byteOffset, t.byteLength);

/** Stored values by key, with the version they hold; least recently used go first. */
export class ValueCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held: the executor's own, not counted against user code's memory limit. */
  get bytes(): number {
    return this.total;
  }

  version(key: string): string | undefined {
    return this.entries.get(key)?.version;
  }

  get(key: string, version: string): Cached | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.version !== version) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /**
   * The instance of a cached typed array that shared gets hand out: the same one every time
   * while it still equals the private copy. A caller that changed it keeps it, and the next
   * caller gets a fresh copy, so a shared get never returns anything but the version's content.
   */
  shared(key: string, version: string): TypedArray | undefined {
    const e = this.entries.get(key);
    const typed = e?.version === version ? e.value.typed : undefined;
    if (e === undefined || typed === undefined) return undefined;
    this.get(key, version);
    if (e.shared !== undefined && bytesOf(e.shared).equals(bytesOf(typed))) return e.shared;
    if (e.shared === undefined) this.grow(e, typed.byteLength);
    e.shared = typed.slice() as TypedArray;
    return e.shared;
  }

  set(key: string, version: string, value: Cached): void {
    this.drop(key);
    const size = value.typed !== undefined ? value.typed.byteLength : value.bytes.byteLength;
    // A value that would take most of the cache would only push everything else out.
    if (size > this.maxBytes / 4) return;
    const e: Entry = { version, value, size: 0 };
    this.entries.set(key, e);
    this.grow(e, size);
  }

  /** Counts `size` more bytes for `e`, then evicts least recently used entries past the bound. */
  private grow(e: Entry, size: number): void {
    e.size += size;
    this.total += size;
    for (const [k] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.drop(k);
    }
  }

  drop(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.total -= e.size;
  }
}

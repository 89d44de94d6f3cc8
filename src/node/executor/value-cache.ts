/**
 * A byte-bounded cache of stored values by key and version, shared by every invocation's ctx in
 * one worker, so a hot `get` moves no bytes between threads.
 */

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
  /** The instance lent to one invocation at a time for a reference argument (see `lend`). */
  lent?: TypedArray;
  /** The invocation holding `lent` now. */
  holder?: string;
}

const bytesOf = (t: TypedArray): Buffer => Buffer.from(t.buffer, t.byteOffset, t.byteLength);

/** Stored values by key, with the version they hold; least recently used go first. */
export class ValueCache {
  private readonly entries = new Map<string, Entry>();
  /** The entries each running invocation holds a loan of. */
  private readonly loans = new Map<string, Entry[]>();
  private total = 0;
  /** Bytes of the instances lent to reference arguments (`Entry.lent`). */
  private lentTotal = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held: the executor's own, not counted against user code's memory limit. */
  get bytes(): number {
    return this.total + this.lentTotal;
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

  /**
   * The instance of a cached typed array lent to invocation `holder` for a reference argument,
   * until `release(holder)`: one invocation at a time holds it, so another one, or a second
   * reference to the key in the same invocation, gets undefined (and takes a copy). Before each
   * loan it is compared with the private copy; one its last holder changed stays with that holder
   * and a fresh copy is lent. So a reference read on every call costs a compare, not a copy, and
   * no invocation sees another's writes.
   */
  lend(key: string, version: string, holder: string): TypedArray | undefined {
    const e = this.entries.get(key);
    const typed = e?.version === version ? e.value.typed : undefined;
    if (e === undefined || typed === undefined || e.holder !== undefined) return undefined;
    this.get(key, version);
    if (e.lent === undefined) {
      // Lent instances have a budget of their own (half the cache's), so lending never evicts
      // what the cache holds; past it, reference arguments are copied as any get is.
      if (this.lentTotal + typed.byteLength > this.maxBytes / 2) return undefined;
      this.lentTotal += typed.byteLength;
    } else if (bytesOf(e.lent).equals(bytesOf(typed))) {
      return this.loan(holder, e, e.lent);
    }
    e.lent = typed.slice() as TypedArray;
    return this.loan(holder, e, e.lent);
  }

  private loan(holder: string, e: Entry, lent: TypedArray): TypedArray {
    e.holder = holder;
    let held = this.loans.get(holder);
    if (held === undefined) this.loans.set(holder, (held = []));
    held.push(e);
    return lent;
  }

  /** Ends the loans of invocation `holder` (it finished). */
  release(holder: string): void {
    const held = this.loans.get(holder);
    if (held === undefined) return;
    this.loans.delete(holder);
    for (const e of held) if (e.holder === holder) e.holder = undefined;
  }

  /** Keeps `value` as `key`'s `version`; false when it is too big to keep (nothing is kept). */
  set(key: string, version: string, value: Cached): boolean {
    this.drop(key);
    const size = value.typed !== undefined ? value.typed.byteLength : value.bytes.byteLength;
    // A value that would take most of the cache would only push everything else out.
    if (size > this.maxBytes / 4) return false;
    const e: Entry = { version, value, size: 0 };
    this.entries.set(key, e);
    this.grow(e, size);
    return true;
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
    if (e.lent !== undefined) this.lentTotal -= e.lent.byteLength;
  }
}

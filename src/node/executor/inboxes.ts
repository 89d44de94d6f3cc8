/**
 * The messages pushed to this worker's invocations, kept on the worker side so that `recv` is
 * served without asking the main thread.
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

import type { Redis } from "ioredis";
import { StorageUnavailableError } from "../../errors/index.js";
import type { ChangeEvent, ChangeListener, Subscription } from "../store.js";
import { mapRedisError } from "./errors.js";

/**
 * Keyspace-event classes Stratus needs: K (keyspace channel), g (del), $ (set), h (hset),
 * x and e (expiry and eviction, so caches drop keys the server dropped).
 */
const NEEDED = ["K", "g", "$", "h", "x", "e"];

/** The flags to set so that `current` also delivers everything in {@link NEEDED}. */
export function notificationFlags(current: string): string {
  const covered = new Set(current.split(""));
  if (covered.has("A")) for (const c of "g$lshzxetd") covered.add(c);
  const missing = NEEDED.filter((c) => !covered.has(c));
  return current + missing.join("");
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}

function eventFor(op: string, key: string): ChangeEvent | undefined {
  switch (op) {
    case "set":
    case "hset":
      return { kind: "put", key };
    case "del":
    case "expired":
    case "evicted":
      return { kind: "delete", key };
    default:
      return undefined;
  }
}

/** Options of {@link KeyspaceNotifier}. */
export interface KeyspaceNotifierOptions {
  keyPrefix: string;
  db: number;
  /** Set `notify-keyspace-events` on every node (needs the CONFIG command). */
  configure: boolean;
  /** The nodes whose events to follow (every master), and every node to configure. */
  masters: () => Redis[];
  allNodes: () => Redis[];
}

/**
 * Follows Redis keyspace notifications for the store's keys and fans them out to subscribers.
 * One subscriber connection per master (keyspace events are local to the node that owns the key).
 * When a subscriber connection drops and comes back, events may have been missed, so listeners get
 * a `reset`.
 */
export class KeyspaceNotifier {
  private readonly listeners = new Set<{ prefix: string; fn: ChangeListener }>();
  private readonly conns = new Map<string, Redis>();
  private started: Promise<void> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly channelPrefix: string;

  constructor(private readonly o: KeyspaceNotifierOptions) {
    this.channelPrefix = `__keyspace@${o.db}__:${o.keyPrefix}`;
  }

  async subscribe(prefix: string, fn: ChangeListener): Promise<Subscription> {
    this.started ??= this.reconcile(true);
    await this.started;
    // Topology events that arrived meanwhile may still be adding subscribers: wait for them too.
    await this.queue.catch(() => undefined);
    const entry = { prefix, fn };
    this.listeners.add(entry);
    return {
      close: () => {
        this.listeners.delete(entry);
        return Promise.resolve();
      },
    };
  }

  /**
   * Brings the subscriber connections in line with the current masters (after topology changes).
   * Calls run one after another: two at once would both open a subscriber for the same master
   * and leak one of them.
   */
  reconcile(initial = false): Promise<void> {
    const run = this.queue.catch(() => undefined).then(() => this.reconcileNow(initial));
    this.queue = run;
    return run;
  }

  private async reconcileNow(initial: boolean): Promise<void> {
    if (this.closed) return;
    if (this.o.configure) {
      await Promise.all(this.o.allNodes().map((n) => this.configure(n)));
      // Closed while configuring: opening subscribers now would leak them past close().
      if (this.closed) return;
    }
    const masters = new Map(
      this.o.masters().map((n) => [`${n.options.host}:${n.options.port}`, n]),
    );
    for (const [id, conn] of this.conns) {
      if (!masters.has(id)) {
        this.conns.delete(id);
        conn.disconnect();
      }
    }
    const added: Promise<unknown>[] = [];
    for (const [id, node] of masters) {
      if (this.conns.has(id)) continue;
      const conn = node.duplicate({ enableAutoPipelining: false, lazyConnect: false });
      this.conns.set(id, conn);
      let ready = 0;
      conn.on("ready", () => {
        // A reconnect: the server may have restarted and forgotten notify-keyspace-events (it is
        // not persisted), and events were missed meanwhile. Settings first, then the reset, so
        // subscribers reload only once changes are being reported again.
        if (ready++ > 0) void this.reconfigure(node).finally(() => this.emit({ kind: "reset" }));
      });
      conn.on("error", () => undefined); // reconnection is automatic; errors surface as resets
      conn.on("pmessage", (_pattern: string, channel: string, op: string) => {
        const ev = eventFor(op, channel.slice(this.channelPrefix.length));
        if (ev !== undefined) this.emit(ev);
      });
      added.push(conn.psubscribe(escapeGlob(this.channelPrefix) + "*"));
    }
    if (added.length > 0 && !initial) this.emit({ kind: "reset" });
    try {
      await Promise.all(added);
    } catch (e) {
      throw mapRedisError(e);
    }
  }

  /**
   * Resolves once every event published before the call has been emitted: a PING on each
   * subscriber connection is answered after the events the server queued on it before.
   */
  async sync(): Promise<void> {
    await this.started;
    await Promise.all([...this.conns.values()].map((c) => c.ping()));
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    for (const c of this.conns.values()) c.disconnect();
    this.conns.clear();
  }

  /**
   * Re-applies the settings after a reconnect, retrying while the node is still coming back
   * (loading its data, say), until it answers or the notifier is closed.
   */
  private async reconfigure(node: Redis): Promise<void> {
    if (!this.o.configure) return;
    for (let delay = 50; !this.closed; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.configure(node);
        return;
      } catch (e) {
        // CONFIG refused for good (not a connection problem): retrying cannot help.
        if (!(e instanceof StorageUnavailableError) || !e.retryable) return;
      }
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  }

  private async configure(node: Redis): Promise<void> {
    try {
      const cur = await node.config("GET", "notify-keyspace-events");
      const flags = cur[1] ?? "";
      const want = notificationFlags(flags);
      if (want !== flags) await node.config("SET", "notify-keyspace-events", want);
    } catch (e) {
      const mapped = mapRedisError(e);
      if (mapped instanceof StorageUnavailableError) throw mapped;
      throw new StorageUnavailableError(
        "cannot enable keyspace notifications (CONFIG SET notify-keyspace-events failed: " +
          `${(e as Error).message}); set notify-keyspace-events to include "${NEEDED.join("")}" ` +
          "on every Redis node, and pass notifications: { configure: false }",
        // Refused for good: retrying cannot help.
        { cause: e, retryable: false },
      );
    }
  }

  private emit(ev: ChangeEvent): void {
    for (const { prefix, fn } of this.listeners) {
      if (ev.kind === "reset" || ev.key.startsWith(prefix)) fn(ev);
    }
  }
}

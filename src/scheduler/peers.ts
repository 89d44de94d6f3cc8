import { connect } from "../wire/index.js";
import type {
  Connection,
  Handlers,
  OnDropped,
  TlsClientOptions,
  WireClock,
} from "../wire/index.js";

/** Something that takes notifications addressed to this process itself. */
export type LocalSink = (method: string, payload: unknown) => void;

/** Options of {@link Peers}. */
export interface PeersOptions {
  /** This process's id, sent in the handshake. */
  id: string;
  role: "node" | "scheduler";
  token: string;
  /** Handlers for what peers send back over connections this process opened. */
  handlers: Handlers;
  /** This process's clock: stamps what it sends, observes what it receives. */
  clock?: WireClock;
  /** Certificate checks for `stratuss://` peers (the cluster's CA). */
  tls?: TlsClientOptions;
  /**
   * Called when the peer at `addr` looks gone: its connection closed (not for idleness), or a
   * TCP connect to it was refused or found no route. Not when its listener accepted and then
   * closed us (over its connection caps: a busy peer, alive) or the handshake timed out (a
   * paused peer): heartbeats and membership decide those.
   */
  onLost?: (addr: string, err: Error | undefined) => void;
}

/**
 * Connections to other Stratus processes by address, opened on first use and shared by every
 * call. Notifications to this process's own address skip the network.
 *
 * @example
 * ```ts
 * const peers = new Peers({ id: "n1", role: "node", token, handlers });
 * peers.notify("stratus://10.0.0.2:7400", "trigger", trigger);
 * ```
 */
export class Peers {
  private readonly conns = new Map<string, Promise<Connection>>();
  /** The promise each open connection came from, to forget exactly that one. */
  private readonly opened = new WeakMap<Connection, Promise<Connection>>();
  private local: { addr: string; sink: LocalSink } | undefined;
  private closed = false;

  constructor(private readonly options: PeersOptions) {}

  /** Routes notifications for `addr` straight to `sink`. */
  setLocal(addr: string, sink: LocalSink): void {
    this.local = { addr, sink };
  }

  isLocal(addr: string): boolean {
    return this.local?.addr === addr;
  }

  /**
   * Sends a notification. Delivery is best effort, as for any message on a network: callers that
   * need an outcome track it themselves (the dispatcher's deadlines and retries). While the peer
   * reads slower than we write, it waits in the connection's send queue; if it does not fit there
   * or waits too long, it is dropped and `dropped` is told (`OVERLOADED`). That is no sign the
   * peer is lost and never counts as one: membership decides that.
   */
  notify(addr: string, method: string, payload: unknown, dropped?: OnDropped): void {
    if (this.local !== undefined && this.local.addr === addr) {
      const sink = this.local.sink;
      // Asynchronous like the network, so a handler never re-enters its caller.
      queueMicrotask(() => this.guard(addr, method, () => sink(method, payload)));
      return;
    }
    this.get(addr).then(
      (c) =>
        this.guard(addr, method, () => {
          if (c.notify(method, payload, dropped)) return;
          // Nothing was sent: the connection is closing (for idleness, say) but has not closed
          // yet. Forget it and send once on a new one.
          if (this.conns.get(addr) === this.opened.get(c)) this.conns.delete(addr);
          this.get(addr).then(
            (fresh) => this.guard(addr, method, () => fresh.notify(method, payload, dropped)),
            () => undefined,
          );
        }),
      () => undefined,
    );
  }

  /** Runs a send that nobody awaits: a throw (VALUE_TOO_LARGE) is reported, never propagated. */
  private guard(addr: string, method: string, send: () => void): void {
    try {
      send();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      process.emitWarning(`stratus peers: ${method} to ${addr} was not sent: ${why}`);
    }
  }

  /** An open connection to `addr`. */
  get(addr: string): Promise<Connection> {
    if (this.closed) return Promise.reject(new Error("peers closed"));
    const existing = this.conns.get(addr);
    if (existing !== undefined) return existing;
    {
      const { id, role, token, handlers, clock, tls } = this.options;
      const p = connect(addr, {
        id,
        role,
        token,
        handlers,
        clock,
        timeoutMs: 3000,
        ...(tls && { tls }),
      });
      this.conns.set(addr, p);
      p.then(
        (c) => {
          this.opened.set(c, p);
          void c.closed.then((err) => {
            if (this.conns.get(addr) === p) this.conns.delete(addr);
            // Closed for idleness is no loss: the next notify simply opens a new connection.
            if (!this.closed && !c.closedForIdleness) this.options.onLost?.(addr, err);
          });
        },
        (err: Error) => {
          if (this.conns.get(addr) === p) this.conns.delete(addr);
          if (!this.closed && nobodyThere(err)) this.options.onLost?.(addr, err);
        },
      );
      return p;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}

/** Connect errors that say no process listens there, or no host answers: the peer is gone. */
const GONE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN"]);

function nobodyThere(err: Error): boolean {
  const code = (err as { details?: Record<string, unknown> }).details?.["code"];
  return typeof code === "string" && GONE.has(code);
}

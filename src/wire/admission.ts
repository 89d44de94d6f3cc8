import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import type { Socket } from "node:net";

/**
 * Admission of inbound sockets, so that no listener can take the descriptors the process needs
 * elsewhere. Every open socket holds a file descriptor; past the process's limit (`ulimit -n`,
 * often 1,024) `accept` fails for every listener at once, and also opening a connection to a
 * peer or to Redis, or a file. So each listener's cap is derived from that limit, with a reserve
 * kept for the rest, and no single remote address may hold more than a share of a listener.
 */

/** Used when the limit cannot be read: the usual default soft limit on Linux and macOS. */
export const FALLBACK_DESCRIPTOR_LIMIT = 1024;
/** What an unlimited descriptor limit counts as (Linux's default hard ceiling, `nr_open`). */
const UNLIMITED = 1_048_576;
/** No listener defaults to more than this many connections, whatever the limit allows. */
export const MAX_DEFAULT_CONNECTIONS = 10_000;

function parseLimit(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (s === "unlimited") return UNLIMITED;
  const n = Number(s);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * The process's soft limit of open file descriptors: from `/proc/self/limits` on Linux, else
 * what `ulimit -n` says in a shell this process starts (which inherits the limit: macOS, BSDs),
 * else {@link FALLBACK_DESCRIPTOR_LIMIT}. Read once per call; call it at start-up.
 *
 * @example
 * ```ts
 * descriptorLimit(); // 1024 under `ulimit -n 1024`
 * ```
 */
export function descriptorLimit(): number {
  try {
    const text = readFileSync("/proc/self/limits", "utf8");
    const n = parseLimit(/^Max open files\s+(\S+)/m.exec(text)?.[1]);
    if (n !== undefined) return n;
  } catch {
    // Not Linux, or no /proc: ask a shell.
  }
  try {
    const out = execFileSync("sh", ["-c", "ulimit -n"], {
      encoding: "utf8",
      timeout: 2000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const n = parseLimit(out.trim());
    if (n !== undefined) return n;
  } catch {
    // No shell either.
  }
  return FALLBACK_DESCRIPTOR_LIMIT;
}

/** How many connections a listener keeps open at once, in all and from one remote address. */
export interface ListenerCaps {
  max: number;
  perAddress: number;
}

/**
 * Splits a descriptor limit between a process's listeners. A quarter of it, at least 64 and at
 * most 4,096, is kept in reserve for what the process opens itself (connections to peers and to
 * Redis, files, the runtime's own). The rest goes to the wire listener, or two thirds of it when
 * an HTTP listener shares it (a third to that); each capped at 10,000. One remote address may
 * hold a quarter of a listener's connections (IPv6 addresses count by their /64, which one host
 * usually has whole), so one misbehaving client cannot lock the others out.
 *
 * @example
 * ```ts
 * connectionCaps(256, { http: true });
 * // { wire: { max: 128, perAddress: 32 }, http: { max: 64, perAddress: 16 }, reserve: 64 }
 * ```
 */
export function connectionCaps(
  descriptors: number,
  listeners: { http: boolean },
): { wire: ListenerCaps; http: ListenerCaps; reserve: number } {
  const reserve = Math.min(4096, Math.max(64, Math.ceil(descriptors / 4)));
  const available = Math.max(16, descriptors - reserve);
  const wire = listeners.http ? Math.floor((available * 2) / 3) : available;
  const http = listeners.http ? available - wire : 0;
  const caps = (n: number): ListenerCaps => {
    const max = Math.max(1, Math.min(MAX_DEFAULT_CONNECTIONS, n));
    return { max, perAddress: Math.max(1, Math.ceil(max / 4)) };
  };
  return { wire: caps(wire), http: caps(http), reserve };
}

/**
 * The key a remote address is counted under: IPv4 (also IPv4-mapped IPv6) as itself, IPv6 by
 * its /64 prefix.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return "";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  // Expand "::" so the first four groups are the /64.
  const [head = "", tail] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/**
 * Counts a listener's open sockets, in all and per remote address, and destroys those over a
 * cap as soon as they are accepted. Its map holds one entry per address with a socket open, so
 * at most `max` entries.
 *
 * @example
 * ```ts
 * const gate = new ConnectionGate({ max: 128, perAddress: 32 });
 * server.prependListener("connection", (socket) => gate.admit(socket));
 * ```
 */
export class ConnectionGate {
  private total = 0;
  private readonly byAddress = new Map<string, number>();
  private refusedCount = 0;

  constructor(readonly caps: ListenerCaps) {}

  /** Sockets open now. */
  get open(): number {
    return this.total;
  }

  /** Sockets destroyed on arrival because a cap was reached. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Counts `socket` until it closes and returns true, or destroys it and returns false. */
  admit(socket: Socket): boolean {
    const key = addressKey(socket.remoteAddress);
    const n = this.byAddress.get(key) ?? 0;
    if (this.total >= this.caps.max || n >= this.caps.perAddress) {
      this.refusedCount++;
      socket.destroy();
      return false;
    }
    this.total++;
    this.byAddress.set(key, n + 1);
    socket.once("close", () => {
      this.total--;
      const left = (this.byAddress.get(key) ?? 1) - 1;
      if (left > 0) this.byAddress.set(key, left);
      else this.byAddress.delete(key);
    });
    return true;
  }
}

/**
 * Connection caps against the descriptor limit: a real `stratus up` (wire listener and HTTP
 * ingress) started under `ulimit -n 256`, and 300 real TCP sockets that connect from 127.0.0.2
 * and never send a byte. A client from 127.0.0.1 must still get through on both ports.
 *
 * The control runs the same process with caps above the descriptor limit (as the old fixed cap
 * of 10,000 was above the usual 1,024): the silent sockets take every descriptor and the client
 * is refused. With the caps derived from the limit, the silent sockets get a quarter of a
 * listener at most, the rest are closed on arrival, and those admitted are closed when they stay
 * silent past the handshake (wire, 5 s) or request-head (HTTP, 10 s) deadline.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const TOKEN = "limits-token";
const SILENT = 300;
/** Runs the process under a descriptor limit of 256 (lowering the soft limit needs no privilege). */
const LOW_FDS = ["sh", "-c", 'ulimit -n 256 && exec "$0" "$@"'];
/** Caps above the descriptor limit: how the listeners behaved before they were derived from it. */
const UNCAPPED = [
  "--max-connections",
  "10000",
  "--max-http-connections",
  "10000",
  "--max-connections-per-address",
  "10000",
];

interface Up {
  child: Child;
  wire: string;
  http: string;
}

async function upUnderLowLimit(extra: string[] = []): Promise<Up> {
  const child = await startStratus(
    ["up", "--token", TOKEN, "--http-port", "0", "--executors", "1", ...extra],
    /Stratus is up at (\S+\n[\s\S]*?http: \S+)\n/,
    {},
    LOW_FDS,
  );
  const wire = /^\S+/.exec(child.ready)?.[0] as string;
  const http = /http: (\S+)/.exec(child.ready)?.[1] as string;
  return { child, wire, http };
}

/** `n` sockets from 127.0.0.2 that never send anything; resolves once each has connected. */
async function silentSockets(port: number, n: number): Promise<Socket[]> {
  const sockets = Array.from({ length: n }, () => {
    const s = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
    // Closed by the listener (refused, or timed out): what this test is about, not a failure.
    s.on("error", () => undefined);
    // Silent, but reading: a 408 must be read for the close behind it to be seen.
    s.resume();
    return s;
  });
  await Promise.all(sockets.map((s) => once(s, "connect")));
  return sockets;
}

/** `p`, or a clear failure after `ms` (a bound on a wait for an event, not a timing claim). */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const portOf = (url: string): number => Number(new URL(url.replace(/^stratus/, "http")).port);

/** Descriptors the process holds now (Linux). */
const descriptors = (child: Child): number => readdirSync(`/proc/${child.proc.pid}/fd`).length;

/**
 * Connections waiting in the accept queue of the loopback listener on `port` (Linux: the
 * rx_queue of a LISTEN socket in /proc/net/tcp). Zero once the process has taken every silent
 * socket off the queue: accepted it, or closed it on arrival.
 */
function acceptQueue(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === "0A") return parseInt((f[4] ?? ":0").split(":")[1] ?? "0", 16);
  }
  throw new Error(`no listener on 127.0.0.1:${port}`);
}

/**
 * `n` sequential clients from 127.0.0.1, alternating: a wire handshake and a gateway request, an
 * authorised HTTP GET. Resolves with how many were refused (each gets 3 s).
 */
async function refusedClients(up: Up, n: number): Promise<number> {
  let refused = 0;
  for (let i = 0; i < n; i++) {
    try {
      if (i % 2 === 0) {
        const client = await Stratus.connect(up.wire, { token: TOKEN, timeoutMs: 3_000 });
        try {
          assert.ok(Array.isArray((await client.status()).nodes));
        } finally {
          await client.close();
        }
      } else {
        const res = await fetch(`${up.http}/v1/kv/some-key`, {
          headers: { authorization: `Bearer ${TOKEN}` },
          signal: AbortSignal.timeout(3_000),
        });
        // Served: a key nobody wrote is a 404 NOT_FOUND answer, not a refused connection.
        assert.equal(res.status, 404);
        assert.equal(
          ((await res.json()) as { error?: { code?: string } }).error?.code,
          "NOT_FOUND",
        );
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      refused++;
    }
  }
  return refused;
}

describe("runtime: connection caps under ulimit -n 256", () => {
  for (const target of ["wire", "http"] as const) {
    it(`control: caps above the limit, ${SILENT} silent sockets on the ${target} port lock clients out`, async () => {
      const up = await upUnderLowLimit(UNCAPPED);
      let silent: Socket[] = [];
      try {
        const port = portOf(up[target]);
        silent = await silentSockets(port, SILENT);
        await until(async () => acceptQueue(port) === 0, 10_000, "the accept queue to empty");
        assert.ok(descriptors(up.child) >= 250, `${descriptors(up.child)} descriptors held`);
        const refused = await refusedClients(up, 6);
        assert.ok(refused > 0, "every client got through");
      } finally {
        for (const s of silent) s.destroy();
        await up.child.stop();
      }
    });

    it(`${SILENT} silent sockets on the ${target} port: clients get through, the silent are closed`, async () => {
      const up = await upUnderLowLimit();
      let silent: Socket[] = [];
      try {
        const port = portOf(up[target]);
        silent = await silentSockets(port, SILENT);
        const closed = silent.map((s) => (s.closed ? Promise.resolve() : once(s, "close")));
        await until(async () => acceptQueue(port) === 0, 10_000, "the accept queue to empty");
        // The reserve for peers, Redis and files (64 of 256) is untouched.
        assert.ok(descriptors(up.child) <= 256 - 64, `${descriptors(up.child)} descriptors held`);
        assert.equal(await refusedClients(up, 6), 0);
        // Admitted or not, every silent socket is closed by the listener, none by us.
        await within(30_000, Promise.all(closed), "the silent sockets to be closed");
        // And the process is as good as new.
        assert.equal(await refusedClients(up, 2), 0);
      } finally {
        for (const s of silent) s.destroy();
        await up.child.stop();
      }
    });
  }
});

/**
 * A process that cannot start leaves nothing behind. Options that cannot work together are
 * refused before anything opens (the store is never touched), and a step that fails late (the
 * HTTP port taken, storage failing the node's first heartbeat) closes everything the steps
 * before it started: the listener's port is free again, and no socket, server, timer or executor
 * thread is left.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { before, describe, it } from "node:test";
import {
  InvalidArgumentError,
  StorageUnavailableError,
  isStratusError,
} from "../../src/errors/index.js";
import {
  PROCESS_DEFAULTS,
  StratusProcess,
  resolveProcessOptions,
} from "../../src/cluster/index.js";
import type { ProcessOptions } from "../../src/cluster/index.js";
import type { Lattice } from "../../src/lattice/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";

const token = "start-token";

/** A listening TCP server on a free loopback port. */
async function listening(port = 0): Promise<Server> {
  const srv = createServer();
  srv.listen(port, "127.0.0.1");
  await once(srv, "listening");
  return srv;
}

const portOf = (srv: Server): number => (srv.address() as { port: number }).port;

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const srv = await listening();
  const port = portOf(srv);
  srv.close();
  await once(srv, "close");
  return port;
}

/** Whether `port` can be listened on (nothing holds it). */
async function isFree(port: number): Promise<boolean> {
  try {
    const srv = await listening(port);
    srv.close();
    await once(srv, "close");
    return true;
  } catch {
    return false;
  }
}

/**
 * What keeps this process busy: servers, sockets and live timers (Node's resource list, which
 * leaves out worker threads), and its OS threads, which count executor workers.
 */
async function footprint(): Promise<{ resources: string[]; threads: number | undefined }> {
  // A closed handle leaves the list in the loop's close phase, which follows the check phase
  // where setImmediate callbacks run: two turns of the loop let closes already made finish.
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  const kept = new Set(["TCPServerWrap", "TCPSocketWrap", "Timeout", "PipeWrap", "TTYWrap"]);
  const resources = process.getActiveResourcesInfo().filter((r) => kept.has(r));
  const status = "/proc/self/status";
  const threads = existsSync(status)
    ? Number(/^Threads:\s+(\d+)$/m.exec(readFileSync(status, "utf8"))?.[1])
    : undefined;
  return { resources: resources.sort(), threads };
}

/** The store, with every call counted: a start refused up front makes none. */
function counted(store: Store): { store: Store; calls: () => number } {
  let calls = 0;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls: () => calls };
}

/**
 * A real memory store whose node heartbeats fail, as a store that went down between a
 * process's first steps and its node's: injected here because no real backend fails on cue.
 */
function failingHeartbeats(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (prop === "put") {
        return (key: string, value: Lattice) =>
          key.startsWith("sys/node/")
            ? Promise.reject(new StorageUnavailableError("injected: the store went down"))
            : target.put(key, value);
      }
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe("StratusProcess.start: options checked before anything starts", () => {
  const refused: [string, Partial<ProcessOptions>, string][] = [
    ["an HTTP port without a scheduler", { scheduler: false, httpPort: 0 }, "httpPort"],
    ["an autoscaler without a scheduler", { scheduler: false, monitor: {} }, "monitor"],
    ["neither a scheduler nor executors", { scheduler: false, executors: 0 }, "executors"],
    ["a negative executor count", { executors: -1 }, "executors"],
    ["an id that cannot name a node", { id: "a.b", executors: 1 }, "id"],
    ["an unknown placement", { placement: "nearest" as "spread" }, "placement"],
    ["a port out of range", { port: 70_000 }, "port"],
    [
      "a TLS certificate that cannot be read",
      { tls: { certFile: "/nonexistent/cert.pem", keyFile: "/nonexistent/key.pem" } },
      "tls.certFile",
    ],
    ["a clock offset that is not finite", { clockOffsetMs: Infinity }, "clockOffsetMs"],
  ];
  for (const [what, options, field] of refused) {
    it(`refuses ${what}, naming ${field}, without touching the store`, async () => {
      const memory = await MemoryStore.open();
      const { store, calls } = counted(memory);
      try {
        await assert.rejects(
          StratusProcess.start({ token, store, ...options }),
          (e: unknown) => e instanceof InvalidArgumentError && e.message.startsWith(`${field}:`),
        );
        assert.equal(calls(), 0, "the store was touched");
      } finally {
        await memory.close();
      }
    });
  }

  it("fills in the defaults it documents", () => {
    const o = resolveProcessOptions({ token });
    assert.equal(o.executors, PROCESS_DEFAULTS.executors);
    assert.equal(o.host, PROCESS_DEFAULTS.host);
    assert.deepEqual(o.store, { address: PROCESS_DEFAULTS.store });
    assert.equal(o.scheduler, true);
    assert.equal(o.closeTimeoutMs, PROCESS_DEFAULTS.closeTimeoutMs);
    assert.match(o.id, /^n-[0-9a-f]{8}$/);
  });
});

describe("StratusProcess.start: a late failure leaves nothing behind", () => {
  before(async () => {
    // Warm up what a process starts once and keeps (the worker bundle, libuv's thread pool),
    // so that it does not count as left behind.
    const p = await StratusProcess.start({ token, executors: 1 });
    await p.close();
  });

  it("closes the listener, store, transactions and ticker when the HTTP port is taken", async () => {
    const taken = await listening();
    const port = await freePort();
    const before = await footprint();
    try {
      await assert.rejects(
        StratusProcess.start({ token, port, httpPort: portOf(taken), executors: 1 }),
        (e: unknown) => (e as { code?: unknown }).code === "EADDRINUSE",
      );
      assert.ok(await isFree(port), `port ${port} is still held`);
      assert.deepEqual(await footprint(), before);
    } finally {
      taken.close();
    }
  });

  it("closes the node's executors and everything before them when its first heartbeat fails", async () => {
    const memory = await MemoryStore.open();
    const port = await freePort();
    const before = await footprint();
    try {
      await assert.rejects(
        StratusProcess.start({
          token,
          port,
          store: failingHeartbeats(memory),
          executors: 2,
          httpPort: 0,
        }),
        (e: unknown) => isStratusError(e) && e.code === "STORAGE_UNAVAILABLE",
      );
      assert.ok(await isFree(port), `port ${port} is still held`);
      assert.deepEqual(await footprint(), before);
    } finally {
      await memory.close();
    }
  });

  it("control: the same process, with a store that works, starts and holds what it started", async () => {
    const memory = await MemoryStore.open();
    const port = await freePort();
    const before = await footprint();
    const p = await StratusProcess.start({ token, port, store: memory, executors: 2, httpPort: 0 });
    try {
      assert.equal(await isFree(port), false);
      const during = await footprint();
      const servers = (f: { resources: string[] }): number =>
        f.resources.filter((r) => r === "TCPServerWrap").length;
      assert.equal(servers(during), servers(before) + 2, "the listener and the HTTP ingress");
      if (before.threads !== undefined) {
        assert.ok((during.threads ?? 0) >= before.threads + 2, "two executor threads");
      }
    } finally {
      await p.close();
      await memory.close();
    }
  });
});

/**
 * Requests and notifications over real loopback sockets: both directions, binary payloads, typed
 * errors across the wire, deadlines, and what closing does to requests still in flight.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ClosedError,
  NoSuchFunctionError,
  StratusError,
  TimeoutError,
  isStratusError,
} from "../../src/errors/index.js";
import type { Connection, WireServer } from "../../src/wire/index.js";
import { deferred, dial, listen, prng, randomBytes } from "./helpers.js";

/** Handlers the listener uses in this file; `hang` never answers until the test lets it. */
function serverHandlers(state: { serverConns: Connection[]; notes: unknown[] }) {
  return {
    request: async (method: string, payload: unknown, conn: Connection): Promise<unknown> => {
      switch (method) {
        case "echo":
          return payload;
        case "add":
          return (payload as number[]).reduce((a, b) => a + b, 0);
        case "missing":
          throw new NoSuchFunctionError(`no function ${String(payload)}`, {
            details: { name: payload },
          });
        case "boom":
          throw new Error("plain failure");
        case "huge":
          return new Uint8Array(2 * 1024 * 1024);
        case "hang":
          return new Promise(() => undefined);
        case "ask-back":
          // A request answered by asking the requester something over the same connection.
          return { back: await conn.request("whoami", null) };
        default:
          throw new NoSuchFunctionError(`unknown method ${method}`);
      }
    },
    notify: (method: string, payload: unknown) => {
      if (method === "throw") throw new Error("notify handler failure");
      state.notes.push([method, payload]);
    },
  };
}

describe("Connection", () => {
  const state = { serverConns: [] as Connection[], notes: [] as unknown[] };
  let server: WireServer;
  let conn: Connection;
  const clientNotes: unknown[] = [];
  let clientNoted = deferred();

  before(async () => {
    server = await listen(serverHandlers(state), {
      maxFrameBytes: 1024 * 1024,
      onConnection: (c) => state.serverConns.push(c),
    });
    conn = await dial(server, {
      request: (method) => (method === "whoami" ? "client-1" : undefined),
      notify: (method, payload) => {
        clientNotes.push([method, payload]);
        clientNoted.resolve();
      },
    });
  });
  after(async () => {
    await conn.close();
    await server.close();
  });

  it("knows who is at each end after the handshake", () => {
    assert.equal(conn.remoteId, "server-1");
    assert.deepEqual(conn.info, { roles: ["test"] });
    assert.equal(conn.role, undefined);
    const sc = state.serverConns[0]!;
    assert.equal(sc.remoteId, "client-1");
    assert.equal(sc.role, "client");
    assert.equal(server.connections.size, 1);
  });

  it("answers requests, many in flight at once", async () => {
    assert.equal(await conn.request("add", [1, 2, 3]), 6);
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => conn.request<number>("add", [i, 1])),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
  });

  it("round-trips binary payloads as bytes", async () => {
    const rand = prng(42);
    for (const size of [0, 1, 1000, 200_000, 1000_000]) {
      const bytes = randomBytes(rand, size);
      const back = await conn.request<Uint8Array>("echo", { bytes: new Uint8Array(bytes) });
      const out = (back as unknown as { bytes: Uint8Array }).bytes;
      assert.ok(out instanceof Uint8Array, `size ${size}`);
      assert.ok(Buffer.from(out).equals(bytes), `size ${size}`);
    }
  });

  it("sends requests and notifications from the listener to the client too", async () => {
    const sc = state.serverConns[0]!;
    assert.equal(await sc.request("whoami", null), "client-1");
    assert.deepEqual(await conn.request("ask-back"), { back: "client-1" });
    clientNoted = deferred();
    assert.equal(sc.notify("tick", { n: 1, bin: new Uint8Array([9]) }), true);
    await clientNoted.promise;
    assert.deepEqual(clientNotes.at(-1), ["tick", { n: 1, bin: Buffer.from([9]) }]);
  });

  it("delivers client notifications in order with requests", async () => {
    state.notes.length = 0;
    conn.notify("a", 1);
    conn.notify("b", 2);
    await conn.request("echo", null);
    assert.deepEqual(state.notes, [
      ["a", 1],
      ["b", 2],
    ]);
  });

  it("keeps error codes and classes across the wire", async () => {
    await assert.rejects(conn.request("missing", "inc"), (e) => {
      assert.ok(e instanceof NoSuchFunctionError);
      assert.equal(e.code, "NO_SUCH_FUNCTION");
      assert.equal(e.message, "no function inc");
      assert.deepEqual(e.details, { name: "inc" });
      return true;
    });
    await assert.rejects(conn.request("no-such-method"), { code: "NO_SUCH_FUNCTION" });
    await assert.rejects(conn.request("boom"), (e) => {
      assert.ok(e instanceof StratusError);
      assert.equal(e.code, "INTERNAL");
      assert.equal(e.message, "plain failure");
      return true;
    });
  });

  it("answers with an error when the result cannot be sent", async () => {
    await assert.rejects(conn.request("huge"), { code: "VALUE_TOO_LARGE" });
    await assert.rejects(conn.request("echo", Symbol("x")), { code: "INVALID_ARGUMENT" });
    assert.equal(await conn.request("echo", 1), 1);
  });

  it("survives a notification handler that throws, reporting it as a warning", async () => {
    const warned = new Promise<Error>((resolve) => process.once("warning", resolve));
    conn.notify("throw");
    assert.match((await warned).message, /notify handler failure/);
    assert.equal(await conn.request("echo", 2), 2);
  });

  it("answers a request the client handler does not know with the handler's result", async () => {
    const sc = state.serverConns[0]!;
    assert.equal(await sc.request("something-else"), undefined);
  });

  it("rejects with TIMEOUT (retryable) when no answer arrives by the deadline", async () => {
    await assert.rejects(conn.request("hang", null, { timeoutMs: 20 }), (e) => {
      assert.ok(e instanceof TimeoutError);
      assert.equal(e.code, "TIMEOUT");
      assert.equal(e.retryable, true);
      return true;
    });
    // The connection is still usable afterwards.
    assert.equal(await conn.request("add", [2, 2]), 4);
  });

  it("refuses locally to send a request above the frame limit", async () => {
    const small = await dial(server, undefined, { maxFrameBytes: 1024 });
    await assert.rejects(small.request("echo", new Uint8Array(4096)), { code: "VALUE_TOO_LARGE" });
    assert.equal(await small.request("echo", 1), 1);
    await small.close();
  });

  it("exposes write back-pressure through writableNeedDrain and drain()", async () => {
    const c = await dial(server);
    const big = new Uint8Array(1024 * 1024);
    let sent = 0;
    while (!c.writableNeedDrain) {
      c.notify("bulk", big);
      sent++;
    }
    assert.ok(sent >= 1);
    await c.drain();
    assert.equal(c.writableNeedDrain, false);
    await c.close();
  });
});

describe("Connection close", () => {
  it("rejects pending requests with CLOSED (retryable) when closed locally", async () => {
    const started = deferred();
    const server = await listen({
      request: () => {
        started.resolve();
        return new Promise(() => undefined);
      },
    });
    const conn = await dial(server);
    const pending = conn.request("hang");
    await started.promise;
    const closing = conn.close();
    await assert.rejects(pending, (e) => {
      assert.ok(e instanceof ClosedError);
      assert.equal(e.retryable, true);
      assert.match(e.message, /closed locally/);
      return true;
    });
    await closing;
    assert.equal(await conn.closed, undefined);
    await assert.rejects(conn.request("x"), { code: "CLOSED", retryable: true });
    assert.equal(conn.notify("x"), false);
    await server.close();
  });

  it("rejects pending requests with CLOSED and calls the close handler when the peer closes", async () => {
    const started = deferred();
    const server = await listen({
      request: () => {
        started.resolve();
        return new Promise(() => undefined);
      },
    });
    const closedBy = deferred<Error | undefined>();
    const conn = await dial(server, { close: (_c, err) => closedBy.resolve(err) });
    const pending = conn.request("hang");
    await started.promise;
    const rejected = assert.rejects(pending, (e) => {
      assert.ok(isStratusError(e));
      assert.equal(e.code, "CLOSED");
      assert.match(e.message, /closed by the peer/);
      return true;
    });
    await server.close();
    await rejected;
    assert.equal(await closedBy.promise, undefined);
    assert.equal(server.connections.size, 0);
  });
});

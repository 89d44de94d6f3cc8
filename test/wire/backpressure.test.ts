/**
 * Receive-side back-pressure: a connection runs at most `maxPendingRequests` request handlers at
 * once and stops reading its socket meanwhile; it never deadlocks a handler that waits for the
 * requester, and sheds excess work with OVERLOADED when it must keep reading.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OverloadedError } from "../../src/errors/index.js";
import type { Connection } from "../../src/wire/index.js";
import { deferred, dial, listen } from "./helpers.js";

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe("back-pressure", () => {
  it("pauses reading at maxPendingRequests and completes everything once released", async () => {
    const limit = 4;
    const release = deferred();
    const paused = deferred<Connection>();
    const resumed = deferred();
    let calls = 0;
    let running = 0;
    let maxRunning = 0;
    const server = await listen(
      {
        request: async (method, payload) => {
          if (method === "ping") return "pong";
          calls++;
          running++;
          maxRunning = Math.max(maxRunning, running);
          await release.promise;
          running--;
          return payload;
        },
        backpressure: (conn, isPaused) => (isPaused ? paused.resolve(conn) : resumed.resolve()),
      },
      { maxPendingRequests: limit },
    );
    const conn = await dial(server);
    const first = range(0, 40).map((i) => conn.request<number>("block", i));
    const serverSide = await paused.promise;
    assert.equal(calls, limit);
    assert.equal(serverSide.stats.readPaused, true);
    assert.equal(serverSide.stats.handling, limit);

    // Keep sending while the listener is saturated; none of it may reach the handler.
    const more = range(40, 400).map((i) => conn.request<number>("block", i, { timeoutMs: 60_000 }));
    await conn.drain();
    // A round trip on a second connection shows the listener's event loop moved on meanwhile.
    const other = await dial(server);
    assert.equal(await other.request("ping"), "pong");
    assert.equal(calls, limit);
    assert.equal(serverSide.stats.handling, limit);

    release.resolve();
    assert.deepEqual(await Promise.all([...first, ...more]), range(0, 440));
    await resumed.promise;
    assert.equal(calls, 440);
    assert.equal(maxRunning, limit);
    assert.equal(serverSide.stats.readPaused, false);
    await Promise.all([conn.close(), other.close()]);
    await server.close();
  });

  it("keeps reading responses while saturated, so handlers may call the requester back", async () => {
    const server = await listen(
      {
        request: async (_method, payload, conn) => {
          const back = await conn.request<number>("double", payload);
          return back + 1;
        },
      },
      { maxPendingRequests: 2 },
    );
    const conn = await dial(server, { request: (_m, payload) => (payload as number) * 2 });
    const settled = await Promise.allSettled(range(0, 50).map((i) => conn.request<number>("f", i)));
    let ok = 0;
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") {
        ok++;
        assert.equal(s.value, 2 * i + 1);
      } else {
        assert.ok(s.reason instanceof OverloadedError, String(s.reason));
      }
    });
    assert.ok(ok >= 4);
    await conn.close();
    await server.close();
  });

  it("answers OVERLOADED beyond the backlog limit while it awaits its own requests", async () => {
    const innerRelease = deferred();
    const server = await listen(
      { request: async (_method, payload, conn) => [payload, await conn.request("inner")] },
      { maxPendingRequests: 2 },
    );
    const conn = await dial(server, { request: () => innerRelease.promise.then(() => "in") });
    const calls = range(0, 20).map((i) => conn.request("outer", i));
    // Two run (each waiting on the client), two wait in the backlog, the rest are shed.
    const shed = await Promise.allSettled(calls.slice(4));
    for (const s of shed) {
      assert.ok(s.status === "rejected");
      assert.ok(s.reason instanceof OverloadedError);
      assert.equal(s.reason.retryable, true);
    }
    innerRelease.resolve();
    assert.deepEqual(await Promise.all(calls.slice(0, 4)), [
      [0, "in"],
      [1, "in"],
      [2, "in"],
      [3, "in"],
    ]);
    await conn.close();
    await server.close();
  });
});

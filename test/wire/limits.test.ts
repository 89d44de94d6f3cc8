/**
 * Listener limits: at most `maxConnections` sockets at once (the excess is closed on arrival), and
 * established connections with no traffic and nothing in flight are closed after the idle
 * timeout, with a notice so the other side knows it is no failure. Peers reconnects on next use.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClosedError } from "../../src/errors/index.js";
import { Peers } from "../../src/scheduler/index.js";
import type { Connection } from "../../src/wire/index.js";
import { TOKEN, deferred, dial, listen, rawPeer } from "./helpers.js";

describe("listener limits", () => {
  it("closes sockets beyond maxConnections at once and accepts again when one leaves", async () => {
    const server = await listen({ request: () => "pong" }, { maxConnections: 3 });
    const conns = await Promise.all([dial(server), dial(server), dial(server)]);
    // Control: the three within the limit work.
    for (const c of conns) assert.equal(await c.request("ping"), "pong");
    const extra = await rawPeer(server);
    await extra.closed;
    assert.equal(extra.frames.length, 0);
    await assert.rejects(dial(server), ClosedError);
    assert.ok(server.refusedConnections >= 2);
    await conns[0].close();
    const again = await dial(server);
    assert.equal(await again.request("ping"), "pong");
    await Promise.all([again.close(), conns[1].close(), conns[2].close()]);
    await server.close();
  });

  it("closes an idle connection with a notice, but never one with a request in flight", async () => {
    const release = deferred<string>();
    const started = deferred();
    const server = await listen(
      {
        request: (method) => {
          if (method !== "slow") return "pong";
          started.resolve();
          return release.promise;
        },
      },
      { idleTimeoutMs: 50 },
    );
    const busy = await dial(server);
    const slow = busy.request<string>("slow");
    await started.promise;
    const idle = await dial(server);
    assert.equal(await idle.request("ping"), "pong");
    // The idle one closes for idleness while the busy one, whose request is running, stays open.
    assert.equal(await idle.closed, undefined);
    assert.equal(idle.closedForIdleness, true);
    assert.equal(busy.closedForIdleness, false);
    release.resolve("done");
    assert.equal(await slow, "done");
    await busy.closed;
    assert.equal(busy.closedForIdleness, true);
    await server.close();
  });

  it("Peers reopens a connection closed for idleness on next use, without reporting a loss", async () => {
    const got: unknown[] = [];
    let arrived = deferred();
    const serverSide: Connection[] = [];
    const server = await listen(
      {
        notify: (_m, a) => {
          got.push(a);
          arrived.resolve();
        },
      },
      { idleTimeoutMs: 50, onConnection: (c) => serverSide.push(c) },
    );
    const lost: string[] = [];
    const peers = new Peers({
      id: "n1",
      role: "node",
      token: TOKEN,
      handlers: {},
      onLost: (addr) => lost.push(addr),
    });
    peers.notify(server.url, "ping", 1);
    await arrived.promise;
    await serverSide[0]!.closed;
    assert.equal(serverSide[0]!.closedForIdleness, true);
    arrived = deferred();
    peers.notify(server.url, "ping", 2);
    await arrived.promise;
    assert.deepEqual(got, [1, 2]);
    assert.equal(serverSide.length, 2);
    assert.deepEqual(lost, []);
    await peers.close();
    await server.close();
  });
});

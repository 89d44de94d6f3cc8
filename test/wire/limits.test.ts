/**
 * Listener limits: at most `maxConnections` sockets at once (the excess is closed on arrival), and
 * established connections with no traffic and nothing in flight are closed after the idle
 * timeout, with a notice so the other side knows it is no failure. Peers reconnects on next use.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ClosedError } from "../../src/errors/index.js";
import { Peers } from "../../src/scheduler/index.js";
import { addressKey, connectionCaps, descriptorLimit } from "../../src/wire/index.js";
import type { Connection } from "../../src/wire/index.js";
import { TOKEN, deferred, dial, helloFrame, listen, rawPeer } from "./helpers.js";

const root = join(import.meta.dirname, "..", "..");

describe("listener limits", () => {
  it("closes sockets beyond maxConnections at once and accepts again when one leaves", async () => {
    const server = await listen(
      { request: () => "pong" },
      { maxConnections: 3, maxConnectionsPerAddress: 3 },
    );
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

  it("caps the connections of one remote address; other addresses still get in", async () => {
    const server = await listen(
      { request: () => "pong" },
      { maxConnections: 10, maxConnectionsPerAddress: 2 },
    );
    const from2 = async () => {
      const s = netConnect({ ...server.address, localAddress: "127.0.0.2" });
      s.on("error", () => undefined);
      await once(s, "connect");
      return s;
    };
    // Two from 127.0.0.2 complete their handshakes and stay; the third is closed on arrival.
    const kept = [await from2(), await from2()];
    for (const s of kept) {
      s.write(helloFrame());
      await once(s, "data");
    }
    const third = await from2();
    await once(third, "close");
    assert.equal(server.refusedConnections, 1);
    assert.equal(server.connections.size, 2);
    // 127.0.0.1 is another address: it is let in.
    const other = await dial(server);
    assert.equal(await other.request("ping"), "pong");
    await other.close();
    for (const s of kept) s.destroy();
    await server.close();
  });

  it("Peers counts no loss when a listener over its caps closes us, only a refused connect", async () => {
    const server = await listen({ request: () => "pong" }, { maxConnections: 1 });
    const occupant = await dial(server);
    const lost: string[] = [];
    const peers = new Peers({
      id: "n1",
      role: "node",
      token: TOKEN,
      handlers: {},
      onLost: (addr) => lost.push(addr),
    });
    // Accepted and closed at once: the peer is alive, only busy. Membership decides, not this.
    await assert.rejects(peers.get(server.url), ClosedError);
    assert.equal(server.refusedConnections, 1);
    assert.deepEqual(lost, []);
    // Nothing listens there any more: that is a peer gone.
    const url = server.url;
    await occupant.close();
    await server.close();
    await assert.rejects(peers.get(url), ClosedError);
    assert.deepEqual(lost, [url]);
    await peers.close();
  });

  it("derives caps from the descriptor limit, read from a process under ulimit -n 300", () => {
    const script = `import("./src/wire/admission.ts").then((m) => console.log(m.descriptorLimit()))`;
    const out = execFileSync(
      "sh",
      ["-c", 'ulimit -n 300 && exec "$0" "$@"', process.execPath, "--import", "tsx", "-e", script],
      { cwd: root, encoding: "utf8" },
    );
    assert.equal(out.trim(), "300");
    assert.ok(descriptorLimit() > 0);
    assert.deepEqual(connectionCaps(256, { http: true }), {
      wire: { max: 128, perAddress: 32 },
      http: { max: 64, perAddress: 16 },
      reserve: 64,
    });
    assert.deepEqual(connectionCaps(1024, { http: false }).wire, { max: 768, perAddress: 192 });
    // Never above 10,000, and a quarter of a large limit is not all kept in reserve.
    const big = connectionCaps(1_048_576, { http: true });
    assert.deepEqual([big.wire.max, big.http.max, big.reserve], [10_000, 10_000, 4096]);
  });

  it("counts IPv4-mapped addresses as IPv4 and IPv6 addresses by their /64", () => {
    assert.equal(addressKey("::ffff:10.0.0.7"), "10.0.0.7");
    assert.equal(addressKey("10.0.0.7"), "10.0.0.7");
    assert.equal(addressKey("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:0db8:0001:0002:ffff:1:2:3"), "2001:db8:1:2::/64");
    assert.equal(addressKey("::1"), "0:0:0:0::/64");
    assert.equal(addressKey("fe80::1"), "fe80:0:0:0::/64");
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

/**
 * Send-side back-pressure: a peer that sends requests but never reads its answers must not grow
 * the listener's memory. Over the soft bound of buffered bytes the connection stops reading (so
 * it takes no new requests) until the peer reads again; an answer that would pass the hard bound
 * is replaced by a small OVERLOADED error, and the connection stays open.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { encodeFrame } from "../../src/wire/index.js";
import type { Connection } from "../../src/wire/index.js";
import { deferred, dial, helloFrame, listen, rawPeer } from "./helpers.js";

const MiB = 1024 * 1024;
const answer = Buffer.alloc(MiB, 7);

describe("write back-pressure", () => {
  it("stops reading a peer that does not read its answers, and resumes when it does", async () => {
    let calls = 0;
    let called = deferred();
    const paused = deferred<Connection>();
    const resumed = deferred();
    const server = await listen(
      {
        request: (method) => {
          if (method === "ping") return "pong";
          calls++;
          called.resolve();
          return answer;
        },
        backpressure: (conn, isPaused) => (isPaused ? paused.resolve(conn) : resumed.resolve()),
      },
      { maxWriteBufferBytes: 4 * MiB, maxWriteBufferHardBytes: 512 * MiB },
    );
    const peer = await rawPeer(server);
    peer.socket.write(helloFrame());
    // The peer stops reading: what the listener writes piles up in its buffers.
    peer.socket.pause();
    let id = 1;
    let pausedConn: Connection | undefined;
    void paused.promise.then((c) => (pausedConn = c));
    // One request at a time, each waiting for its handler, until the listener stops reading.
    while (pausedConn === undefined) {
      assert.ok(id < 200, "the listener never stopped reading");
      called = deferred();
      peer.socket.write(encodeFrame({ t: "req", i: id++, m: "big", a: null }));
      await Promise.race([called.promise, paused.promise]);
    }
    const conn = await paused.promise;
    assert.equal(conn.stats.readPaused, true);
    const before = calls;
    for (let i = 0; i < 50; i++)
      peer.socket.write(encodeFrame({ t: "req", i: id++, m: "big", a: null }));
    // A round trip on another connection shows the listener's event loop went on meanwhile.
    const other = await dial(server);
    assert.equal(await other.request("ping"), "pong");
    assert.ok(calls <= before + 1, `handled ${calls - before} requests while paused`);

    // The peer reads again: everything is answered and reading resumes.
    peer.socket.resume();
    await resumed.promise;
    const total = id - 1;
    while (peer.frames.length < total + 1) await new Promise((r) => peer.socket.once("data", r));
    assert.equal(calls, total);
    assert.equal(peer.frames.filter((f) => f.t === "res" && f.ok === true).length, total);
    peer.socket.destroy();
    await other.close();
    await server.close();
  });

  it("never closes a peer that does not read its answers: those past the hard bound fail alone", async () => {
    const served = deferred<Connection>();
    let calls = 0;
    const all = deferred();
    const server = await listen(
      {
        request: (method) => {
          if (method === "ping") return "pong";
          if (++calls === 64) all.resolve();
          return answer;
        },
      },
      {
        maxWriteBufferBytes: 2 * MiB,
        maxWriteBufferHardBytes: 8 * MiB,
        onConnection: (conn) => served.resolve(conn),
      },
    );
    const peer = await rawPeer(server);
    peer.socket.pause();
    // All requests in one write: the listener reads them in one chunk and answers each at once.
    const reqs = Array.from({ length: 64 }, (_, i) =>
      encodeFrame({ t: "req", i: i + 1, m: "big", a: null }),
    );
    peer.socket.write(Buffer.concat([helloFrame(), ...reqs]));
    const conn = await served.promise;
    await all.promise;
    // 64 MiB of answers against an 8 MiB bound: what waits stays under it, the rest was refused.
    const { unsentBytes, overloaded } = conn.stats;
    assert.ok(unsentBytes <= 8 * MiB, `${unsentBytes} bytes queued`);
    assert.ok(overloaded > 0, "no answer was refused");

    // The peer reads again: every request has its answer, a result or OVERLOADED, and the
    // connection, never closed, answers a new request.
    peer.socket.resume();
    peer.socket.write(encodeFrame({ t: "req", i: 65, m: "ping", a: null }));
    while (!peer.frames.some((f) => f.i === 65)) await once(peer.socket, "data");
    const answers = peer.frames.filter((f) => f.t === "res" && typeof f.i === "number");
    assert.equal(answers.length, 65);
    const ok = answers.filter((f) => f.ok === true && f.i !== 65);
    const refused = answers.filter((f) => f.ok === false);
    assert.equal(ok.length + refused.length, 64);
    assert.ok(ok.length >= 2, `${ok.length} answers sent`);
    for (const f of refused) {
      const e = f.e as { code: string; retryable: boolean };
      assert.equal(e.code, "OVERLOADED");
      assert.equal(e.retryable, true);
    }
    assert.equal(answers.find((f) => f.i === 65)?.v, "pong");
    assert.equal(server.connections.size, 1);
    peer.socket.destroy();
    await server.close();
  });
});

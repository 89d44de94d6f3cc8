/**
 * The send queue: a burst bigger than the socket wants to buffer waits for 'drain' instead of
 * closing the connection. What does not fit under the hard bound, or waits past its deadline,
 * fails alone with OVERLOADED and is never sent; everything else arrives; the connection stays
 * open. And the receive side bounds the bytes of requests in handling, not only their count.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OverloadedError, TimeoutError } from "../../src/errors/index.js";
import type { Connection } from "../../src/wire/index.js";
import { deferred, dial, listen } from "./helpers.js";

const MiB = 1024 * 1024;
const mib = (i: number): Uint8Array => new Uint8Array(MiB).fill(i);

/**
 * A listener that holds a `block` request until released and stops reading meanwhile
 * (`maxPendingRequests: 1`), so what a client sends next piles up in the kernel and then in the
 * client's send queue. It records the index of every `count` request and `seen` notification.
 */
async function stalledListener() {
  const release = deferred();
  const blocked = deferred();
  const counted: number[] = [];
  const seen: number[] = [];
  const server = await listen(
    {
      request: (method, payload) => {
        if (method === "block") {
          blocked.resolve();
          return release.promise.then(() => "released");
        }
        if (method === "count") counted.push((payload as { i: number }).i);
        return "ok";
      },
      notify: (_method, payload) => void seen.push((payload as { i: number }).i),
    },
    { maxPendingRequests: 1 },
  );
  return { server, release, blocked, counted, seen };
}

describe("send queue", () => {
  it("a burst past the hard bound: the overflow fails alone with OVERLOADED, the rest arrive", async () => {
    const server = await listen({ request: (_m, p) => (p as Uint8Array).byteLength });
    const conn = await dial(server, undefined, {
      maxWriteBufferBytes: 1 * MiB,
      maxWriteBufferHardBytes: 8 * MiB,
    });
    // 40 MiB in one tick against an 8 MiB bound.
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => conn.request<number>("size", mib(i))),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    for (const r of ok) assert.equal(r.value, MiB);
    for (const r of refused) {
      assert.ok(r.reason instanceof OverloadedError, String(r.reason));
      assert.equal(r.reason.retryable, true);
    }
    assert.ok(ok.length >= 7, `only ${ok.length} sent`);
    assert.ok(refused.length > 0, "nothing was refused");
    // The connection was never closed: it takes the next request as usual.
    assert.equal(await conn.request<number>("size", mib(0)), MiB);
    assert.equal(conn.stats.unsentFrames, 0);
    await conn.close();
    await server.close();
  });

  it("a burst under the hard bound waits for drain and is answered in full", async () => {
    const server = await listen({ request: (_m, p) => (p as Uint8Array)[0] });
    const conn = await dial(server, undefined, {
      maxWriteBufferBytes: 1 * MiB,
      maxWriteBufferHardBytes: 64 * MiB,
    });
    const sends = Array.from({ length: 40 }, (_, i) => conn.request<number>("first", mib(i)));
    assert.ok(conn.stats.unsentFrames > 0, "nothing had to wait");
    assert.deepEqual(
      await Promise.all(sends),
      Array.from({ length: 40 }, (_, i) => i),
    );
    await conn.close();
    await server.close();
  });

  it("a request still queued at its deadline fails with OVERLOADED and is never sent", async () => {
    const { server, release, blocked, counted } = await stalledListener();
    const conn = await dial(server, undefined, { maxWriteBufferBytes: 1 * MiB });
    const block = conn.request("block");
    await blocked.promise;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        conn.request("count", { i, pad: mib(i) }, { timeoutMs: 300 }),
      ),
    );
    const timedOut = new Set<number>();
    const unsent = new Set<number>();
    outcomes.forEach((o, i) => {
      assert.equal(o.status, "rejected", `count ${i} was answered while the listener stalled`);
      const e = o.reason as Error;
      if (e instanceof OverloadedError) unsent.add(i);
      else if (e instanceof TimeoutError) timedOut.add(i);
      else assert.fail(`count ${i}: ${String(e)}`);
    });
    assert.ok(unsent.size > 0, "every request left before its deadline");
    release.resolve();
    assert.equal(await block, "released");
    // A request behind all of them: once it is answered, everything sent has been handled.
    assert.equal(await conn.request("count", { i: -1 }), "ok");
    assert.deepEqual(
      counted.filter((i) => i >= 0),
      [...timedOut].sort((a, b) => a - b),
      "the listener saw exactly the requests that timed out after being sent",
    );
    await conn.close();
    await server.close();
  });

  it("a notification queued past maxSendWaitMs is dropped with OVERLOADED, alone", async () => {
    const { server, release, blocked, seen } = await stalledListener();
    const conn = await dial(server, undefined, {
      maxWriteBufferBytes: 1 * MiB,
      maxSendWaitMs: 300,
    });
    const block = conn.request("block");
    await blocked.promise;
    const dropped = new Map<number, Error>();
    const allDropped = deferred();
    for (let i = 0; i < 40; i++) {
      const sent = conn.notify("n", { i, pad: mib(i) }, (err) => {
        dropped.set(i, err);
        if (conn.stats.unsentFrames === 0) allDropped.resolve();
      });
      assert.equal(sent, true);
    }
    await allDropped.promise;
    assert.ok(dropped.size > 0);
    for (const err of dropped.values()) assert.ok(err instanceof OverloadedError);
    release.resolve();
    assert.equal(await block, "released");
    assert.equal(await conn.request("count", { i: -1 }), "ok");
    const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => !dropped.has(i));
    assert.deepEqual(seen, expected, "the listener saw exactly the notifications not dropped");
    await conn.close();
    await server.close();
  });

  it("stops reading once the requests in handling hold maxPendingBytes", async () => {
    const release = deferred();
    const paused = deferred<Connection>();
    let calls = 0;
    const server = await listen(
      {
        request: async (_m, p) => {
          calls++;
          await release.promise;
          return (p as Uint8Array)[0];
        },
        backpressure: (conn, isPaused) => isPaused && paused.resolve(conn),
      },
      { maxPendingBytes: 4 * MiB },
    );
    const conn = await dial(server);
    const sends = Array.from({ length: 10 }, (_, i) => conn.request<number>("hold", mib(i)));
    const served = await paused.promise;
    // Each frame is a little over 1 MiB: the fourth passes the 4 MiB budget, the fifth waits.
    assert.equal(calls, 4);
    assert.equal(served.stats.handling, 4);
    assert.ok(served.stats.handlingBytes >= 4 * MiB);
    release.resolve();
    assert.deepEqual(
      await Promise.all(sends),
      Array.from({ length: 10 }, (_, i) => i),
    );
    assert.equal(calls, 10);
    await conn.close();
    await server.close();
  });
});

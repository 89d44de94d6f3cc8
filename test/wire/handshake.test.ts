/**
 * The handshake and connection-level protocol errors: only a hello with the right token opens a
 * connection, and a misbehaving connection is closed alone while the listener keeps serving.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError, UnauthorizedError } from "../../src/errors/index.js";
import {
  WireServer,
  connect,
  encodeFrame,
  formatStratusUrl,
  parseStratusUrl,
} from "../../src/wire/index.js";
import type { Connection } from "../../src/wire/index.js";
import { TOKEN, deferred, dial, helloFrame, listen, rawPeer } from "./helpers.js";

describe("handshake", () => {
  let server: WireServer;
  let next = deferred<Connection>();
  const closes: [Connection, Error | undefined][] = [];

  before(async () => {
    server = await listen(
      { request: (_m, payload) => payload, close: (c, err) => void closes.push([c, err]) },
      { maxFrameBytes: 1024 * 1024, onConnection: (c) => next.resolve(c) },
    );
  });
  after(() => server.close());

  it("refuses a wrong token with UNAUTHORIZED and closes the connection", async () => {
    await assert.rejects(
      connect(server.url, { token: "wrong", role: "node", id: "n1" }),
      (e) => e instanceof UnauthorizedError && e.code === "UNAUTHORIZED",
    );
    const raw = await rawPeer(server);
    raw.socket.write(helloFrame("wrong"));
    await raw.closed;
    assert.equal(raw.frames.length, 1);
    assert.equal(raw.frames[0]!.t, "res");
    assert.equal((raw.frames[0]!.e as { code: string }).code, "UNAUTHORIZED");
    assert.equal(server.connections.size, 0);
  });

  it("refuses any frame before the hello", async () => {
    const raw = await rawPeer(server);
    raw.socket.write(encodeFrame({ t: "req", i: 1, m: "echo", a: 1 }));
    await raw.closed;
    assert.deepEqual(
      raw.frames.map((f) => [f.t, f.i, (f.e as { code: string }).code]),
      [["res", 0, "UNAUTHORIZED"]],
    );
  });

  it("refuses an unsupported protocol version", async () => {
    const raw = await rawPeer(server);
    raw.socket.write(encodeFrame({ t: "hello", v: 99, token: TOKEN, role: "client", id: "x" }));
    await raw.closed;
    assert.match(String((raw.frames[0]!.e as { message: string }).message), /version 99/);
  });

  it("closes connections that stay silent past the handshake timeout", async () => {
    const quick = await listen({}, { handshakeTimeoutMs: 30 });
    const raw = await rawPeer(quick);
    await raw.closed;
    assert.equal(raw.frames.length, 0);
    await quick.close();
  });

  it("closes an unauthenticated connection announcing a large frame", async () => {
    const raw = await rawPeer(server);
    raw.socket.write(Buffer.from([0x00, 0x10, 0x00, 0x00])); // 1 MiB, above the pre-hello limit
    await raw.closed;
  });

  it("closes a connection sending an oversized frame with BAD_FRAME; others keep working", async () => {
    const good = await dial(server);
    next = deferred();
    const raw = await rawPeer(server);
    raw.socket.write(helloFrame());
    const serverSide = await next.promise;
    raw.socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    const reason = await serverSide.closed;
    assert.equal((reason as UnauthorizedError | undefined)?.code, "BAD_FRAME");
    // The handlers' close callback hears why.
    assert.ok(closes.some(([c, err]) => c === serverSide && err === reason));
    await raw.closed;
    assert.equal(await good.request("echo", "still here"), "still here");
    await good.close();
  });

  it("closes a connection sending an unknown message type with BAD_FRAME", async () => {
    next = deferred();
    const raw = await rawPeer(server);
    // Pipelined: the hello and the bad frame arrive in one chunk.
    raw.socket.write(Buffer.concat([helloFrame(), encodeFrame({ t: "bogus" })]));
    const serverSide = await next.promise;
    assert.equal(((await serverSide.closed) as UnauthorizedError).code, "BAD_FRAME");
    await raw.closed;
  });

  it("rejects connect with retryable CLOSED when nothing listens", async () => {
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    await assert.rejects(
      connect({ host: "127.0.0.1", port }, { token: TOKEN, role: "client", id: "c" }),
      (e) => {
        assert.equal((e as UnauthorizedError).code, "CLOSED");
        assert.equal((e as UnauthorizedError).retryable, true);
        assert.equal((e as UnauthorizedError).details?.code, "ECONNREFUSED");
        return true;
      },
    );
  });

  it("rejects connect with TIMEOUT when the listener never answers the hello", async () => {
    const accepted: Socket[] = [];
    const mute = createServer((s) => accepted.push(s)).listen(0, "127.0.0.1");
    await once(mute, "listening");
    const { port } = mute.address() as AddressInfo;
    await assert.rejects(
      connect(
        { host: "127.0.0.1", port },
        { token: TOKEN, role: "client", id: "c", timeoutMs: 30 },
      ),
      { code: "TIMEOUT", retryable: true },
    );
    // The mute listener never reads, so it would not notice the client going away by itself.
    for (const s of accepted) s.destroy();
    await new Promise((r) => mute.close(r));
  });

  it("validates connect options", async () => {
    await assert.rejects(
      connect(server.url, { token: TOKEN, role: "king" as "client", id: "c" }),
      InvalidArgumentError,
    );
    await assert.rejects(
      connect(server.url, { token: TOKEN, role: "client", id: "" }),
      InvalidArgumentError,
    );
  });
});

describe("stratus URLs", () => {
  it("parses host and port, IPv6 included", () => {
    assert.deepEqual(parseStratusUrl("stratus://127.0.0.1:7000"), {
      host: "127.0.0.1",
      port: 7000,
    });
    assert.deepEqual(parseStratusUrl("stratus://node-3.local:1/"), {
      host: "node-3.local",
      port: 1,
    });
    assert.deepEqual(parseStratusUrl("stratus://[::1]:65535"), { host: "::1", port: 65535 });
    assert.equal(formatStratusUrl({ host: "::1", port: 7 }), "stratus://[::1]:7");
    assert.equal(formatStratusUrl(parseStratusUrl("stratus://h:9")), "stratus://h:9");
  });

  it("rejects anything else with INVALID_ARGUMENT", () => {
    for (const bad of [
      "",
      "127.0.0.1:7000",
      "http://h:1",
      "stratus://h",
      "stratus://h:0",
      "stratus://h:70000",
      "stratus://u:p@h:1",
      "stratus://h:1/path",
      "stratus://h:1?q",
      "stratus:h:1",
    ]) {
      assert.throws(() => parseStratusUrl(bad), InvalidArgumentError, bad);
    }
  });

  it("exposes the listener's address as a URL", async () => {
    const s = await WireServer.listen({ token: TOKEN, id: "s", handlers: {} });
    assert.equal(s.url, `stratus://127.0.0.1:${s.address.port}`);
    assert.deepEqual(parseStratusUrl(s.url), s.address);
    await s.close();
  });
});

/**
 * A Stratus process under hostile input: 10,000 random and truncated frames over hundreds of
 * unauthenticated connections, then an authenticated peer sending malformed payloads to every
 * method it knows. Each bad connection is closed on its own (or the bad message dropped), and
 * afterwards a normal call succeeds: the node keeps serving.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import { connect, encodeFrame, parseStratusUrl } from "../../src/wire/index.js";

/** mulberry32: seeded, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("runtime: hostile input", () => {
  const token = "hostile-token";
  let cloud: Stratus;
  let host = "";
  let port = 0;

  before(async () => {
    cloud = await Stratus.local({ executors: 2, token });
    ({ host, port } = parseStratusUrl(cloud.url as string));
    await cloud.register("inc", async (_ctx, x: number) => x + 1);
  });
  after(async () => {
    await cloud.close();
  });

  it("closes connections sending 10,000 random and truncated frames, then serves a call", async () => {
    const rand = prng(0xbad);
    const bytes = (n: number): Buffer =>
      Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const frame = (): Buffer => {
      const kind = Math.floor(rand() * 4);
      if (kind === 0) return bytes(1 + Math.floor(rand() * 64)); // noise
      const body =
        kind === 1
          ? bytes(Math.floor(rand() * 64))
          : encodeFrame({ t: "req", i: 1, m: "call", a: {} });
      const head = Buffer.alloc(4);
      // A valid header over garbage, a huge length, or a valid frame cut short.
      head.writeUInt32BE(kind === 2 ? 0xfffffff0 : body.length);
      const whole = Buffer.concat([head, body]);
      return kind === 3 ? whole.subarray(0, Math.max(1, Math.floor(whole.length * rand()))) : whole;
    };
    const connections = 400;
    const perConnection = 25;
    for (let batch = 0; batch < connections; batch += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const s = netConnect(port, host);
          s.on("error", () => undefined);
          await once(s, "connect");
          for (let f = 0; f < perConnection; f++) s.write(frame());
          s.end();
          await once(s, "close");
        }),
      );
    }
    assert.equal(await cloud.call("inc", [41]), 42);
  });

  it("drops malformed messages from an authenticated peer and answers bad requests with typed errors", async () => {
    const peer = await connect(cloud.url as string, { token, role: "node", id: "mallory" });
    const garbage: unknown[] = [
      null,
      1,
      "x",
      [],
      {},
      { fn: "inc" },
      { meta: {}, schedule: {}, fn: "inc" },
      {
        meta: {
          run: "r",
          attempt: 0,
          deadline: Date.now() + 1e4,
          reply: { addr: "stratus://127.0.0.1:1", req: 1 },
          session: {},
        },
        schedule: { inc: { node: "x", addr: "y", next: ["nope"], prev: [] } },
        fn: "inc",
        args: [],
      },
    ];
    for (const g of garbage)
      for (const m of ["trigger", "result", "fnmsg", "unknown"]) peer.notify(m, g);
    const requests: [string, unknown][] = [
      ["call", { fn: 7 }],
      ["call", { fn: "inc", args: "no" }],
      ["call", { fn: "inc", args: [new Uint8Array([0xc1])] }],
      ["call", { fn: "inc", args: [], options: { timeoutMs: -1 } }],
      ["dag.call", { dag: "missing" }],
      ["dag.register", { name: "d", spec: { functions: "inc" } }],
      ["fn.register", { name: "bad name!", source: "() => 1" }],
      ["fn.register", { name: "f", source: 12 }],
      ["kv.put", { key: 1, value: "x" }],
      ["kv.get", {}],
      ["nonsense", {}],
    ];
    for (const [method, payload] of requests) {
      try {
        await peer.request(method, payload);
        assert.fail(`${method} accepted ${JSON.stringify(payload)}`);
      } catch (e) {
        assert.ok(isStratusError(e), `${method}: ${String(e)}`);
        assert.ok(
          e.code !== "INTERNAL" || method === "call",
          `${method} gave ${e.code}: ${e.message}`,
        );
      }
    }
    await peer.close();
    assert.equal(await cloud.call("inc", [1]), 2);
  });
});

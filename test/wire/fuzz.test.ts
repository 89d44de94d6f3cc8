/**
 * Hostile input over real sockets: 10,000 random, garbage, oversized and truncated frames spread
 * over hundreds of connections. Each bad connection must be closed on its own; afterwards the
 * listener still serves a fresh connection, holds no leftover connections, and nothing escaped
 * as an uncaught exception or unhandled rejection.
 *
 * Replay a failure with `FUZZ_SEED=<seed> node --import tsx --test test/wire/fuzz.test.ts`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Packr } from "msgpackr";
import { encodeFrame } from "../../src/wire/index.js";
import type { Connection, WireServer } from "../../src/wire/index.js";
import { dial, helloFrame, listen, prng, randomBytes, rawPeer } from "./helpers.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed5);
const CONNECTIONS = 1000;
const FRAMES_PER_CONNECTION = 10;
const PARALLEL = 25;
const MAX_FRAME = 64 * 1024;

const packr = new Packr({ useRecords: false });

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

function withLength(payload: Uint8Array, length = payload.length): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(length);
  return Buffer.concat([head, payload]);
}

/** A random msgpack value, sometimes shaped almost like a message. */
function randomValue(rand: () => number, depth = 0): unknown {
  const leaves = [
    () => Math.floor(rand() * 1e6) - 5e5,
    () => rand(),
    () => pick(rand, ["", "req", "res", "msg", "hello", "welcome", "x".repeat(300)]),
    () => randomBytes(rand, Math.floor(rand() * 40)),
    () => pick(rand, [null, true, false, undefined]),
  ];
  if (depth > 2 || rand() < 0.6) return pick(rand, leaves)();
  if (rand() < 0.5)
    return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (const k of ["t", "i", "m", "a", "ok", "v", "e"])
    if (rand() < 0.5) o[k] = randomValue(rand, depth + 1);
  return o;
}

/** One fuzz frame; valid ones keep the connection open so the frames after them get read. */
function fuzzFrame(rand: () => number): Buffer {
  const valid = (): Buffer =>
    rand() < 0.5
      ? encodeFrame({ t: "req", i: 1 + Math.floor(rand() * 1000), m: "echo", a: randomValue(rand) })
      : encodeFrame({ t: "msg", m: "note", a: randomValue(rand) });
  switch (Math.floor(rand() * 7)) {
    case 0: // raw random bytes, length prefix included
      return randomBytes(rand, 1 + Math.floor(rand() * 64));
    case 1: // a plausible length with a garbage payload
      return withLength(randomBytes(rand, 1 + Math.floor(rand() * 64)));
    case 2: // a well-formed msgpack value that may or may not be a valid message
      return withLength(
        packr.pack({
          t: pick(rand, ["req", "res", "msg", "??"]),
          ...(randomValue(rand) as object),
        }),
      );
    case 3: // a length that lies about the payload size
      return withLength(packr.pack(randomValue(rand)), Math.floor(rand() * 200));
    case 4: // a huge length
      return withLength(
        randomBytes(rand, 8),
        MAX_FRAME + 1 + Math.floor(rand() * (0xffffffff - MAX_FRAME)),
      );
    default:
      return valid();
  }
}

/** Sends one batch over its own connection, in random-sized writes, and waits for the close. */
async function attack(server: WireServer, rand: () => number): Promise<void> {
  const raw = await rawPeer(server);
  const frames: Buffer[] = [rand() < 0.9 ? helloFrame() : fuzzFrame(rand)];
  for (let i = 1; i < FRAMES_PER_CONNECTION; i++) frames.push(fuzzFrame(rand));
  if (rand() < 0.3) {
    // A truncated valid frame, then the close.
    const whole = encodeFrame({ t: "req", i: 7, m: "echo", a: randomBytes(rand, 100) });
    frames[frames.length - 1] = whole.subarray(0, Math.floor(rand() * whole.length));
  }
  const bytes = Buffer.concat(frames);
  let off = 0;
  while (off < bytes.length) {
    const n = 1 + Math.floor(rand() * 200);
    raw.socket.write(bytes.subarray(off, off + n));
    off += n;
  }
  raw.socket.end();
  await raw.closed;
}

describe("fuzzing the listener", () => {
  let server: WireServer;
  const accepted: Connection[] = [];
  const escaped: unknown[] = [];
  let handled = 0;
  const record = (e: unknown): void => void escaped.push(e);

  before(async () => {
    process.on("unhandledRejection", record);
    process.on("uncaughtException", record);
    server = await listen(
      {
        request: (method, payload) => {
          handled++;
          return method === "echo" ? payload : Promise.reject(new Error(method));
        },
        notify: () => void handled++,
      },
      { maxFrameBytes: MAX_FRAME, onConnection: (c) => accepted.push(c) },
    );
  });
  after(async () => {
    process.off("unhandledRejection", record);
    process.off("uncaughtException", record);
    await server.close();
  });

  it(`survives ${CONNECTIONS * FRAMES_PER_CONNECTION} hostile frames (seed ${SEED})`, async (t) => {
    let next = 0;
    const worker = async (): Promise<void> => {
      // One generator per connection, so a seed replays the same bytes whatever the interleaving.
      for (let k = next++; k < CONNECTIONS; k = next++) await attack(server, prng(SEED * 7919 + k));
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    t.diagnostic(`${accepted.length} handshakes, ${handled} messages reached the handlers`);
    // Some of the valid frames between the hostile ones must have been read and handled.
    assert.ok(handled > 0);
    // Every connection that got past the handshake has been closed on the listener's side too.
    assert.ok(accepted.length > CONNECTIONS / 2, `only ${accepted.length} handshakes`);
    const reasons = await Promise.all(accepted.map((c) => c.closed));
    assert.ok(reasons.some((r) => (r as { code?: string } | undefined)?.code === "BAD_FRAME"));
    assert.equal(server.connections.size, 0);

    // And a well-behaved client is served as usual.
    const conn = await dial(server);
    assert.deepEqual(await conn.request("echo", { ok: new Uint8Array([1, 2]) }), {
      ok: Buffer.from([1, 2]),
    });
    assert.equal(server.connections.size, 1);
    await conn.close();
    assert.deepEqual(escaped, []);
  });
});

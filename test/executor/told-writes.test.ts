/**
 * An invocation whose run buffers its writes (read-atomic) does not wait for the host to take a
 * `put`: the function goes on at once, its result waits for the host, and a write the host
 * refuses fails the invocation even though the function returned.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode, HostHandler } from "../../src/node/executor/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";
import { StratusError } from "../../src/errors/index.js";

/** A host whose `put` of "gate" waits for the test, and whose `put` of "bad" is refused. */
function gatedHost(): {
  handler: HostHandler;
  ops: string[];
  gateReached: Promise<void>;
  release: () => void;
  sent: Promise<void>;
} {
  const ops: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const gateReached = new Promise<void>((r) => (reached = r));
  let sentNow!: () => void;
  const sent = new Promise<void>((r) => (sentNow = r));
  const handler: HostHandler = async (op, args, _inv) => {
    ops.push(`${op} ${String(args[0])}`);
    if (op === "put" && args[0] === "gate") {
      reached();
      await gate;
    }
    if (op === "put" && args[0] === "bad") {
      throw new StratusError("LATTICE_TYPE_MISMATCH", "the host refused this write");
    }
    if (op === "send") sentNow();
    return undefined;
  };
  return { handler, ops, gateReached, release, sent };
}

const code = (source: string): FunctionCode => ({
  name: "w",
  version: source,
  kind: "source",
  source,
});

/** Put then send, on the gated key: what the first two tests run, buffered or not. */
const PUT_THEN_SEND =
  "async (ctx) => { await ctx.put('gate', 1); await ctx.send('x', 2); return 'done'; }";

/** Runs `body` with a one-worker pool over a fresh gated host, and closes the pool. */
async function withPool(
  body: (pool: ExecutorPool, host: ReturnType<typeof gatedHost>) => Promise<void>,
): Promise<void> {
  const host = gatedHost();
  const pool = new ExecutorPool({ size: 1, host: host.handler });
  await pool.start();
  try {
    await body(pool, host);
  } finally {
    await pool.close();
  }
}

describe("executor: writes told, not awaited, when the run buffers them", () => {
  it("the function goes on past its put; its result waits for the host", () =>
    withPool(async (pool, host) => {
      let settled = false;
      const running = pool
        .invoke({ id: "i1", code: code(PUT_THEN_SEND), args: [], writesBuffered: true })
        .finally(() => (settled = true));
      await host.sent; // past the put while the host still holds it
      assert.deepEqual(host.ops, ["put gate", "send x"]);
      await new Promise((r) => setImmediate(r));
      assert.equal(settled, false, "the result waits for the host to take the put");
      host.release();
      assert.equal(decodeValue(await running), "done");
    }));

  it("control: without buffering, the function waits for its put", () =>
    withPool(async (pool, host) => {
      const running = pool.invoke({ id: "i2", code: code(PUT_THEN_SEND), args: [] });
      await host.gateReached;
      // The worker waits for the host's answer: nothing after the put can have been asked.
      assert.deepEqual(host.ops, ["put gate"]);
      host.release();
      assert.equal(decodeValue(await running), "done");
      assert.deepEqual(host.ops, ["put gate", "send x"]);
    }));

  it("a refused write fails the invocation although the function returned", () =>
    withPool(async (pool) => {
      const src = "async (ctx) => { await ctx.put('bad', 1); return 'returned'; }";
      await assert.rejects(
        pool.invoke({ id: "i3", code: code(src), args: [], writesBuffered: true }),
        (e: StratusError) => e.code === "LATTICE_TYPE_MISMATCH",
      );
      // Control: awaited, the same refusal reaches the function, which may catch it.
      const caught =
        "async (ctx) => { try { await ctx.put('bad', 1); } catch (e) { return e.code; } }";
      const out = await pool.invoke({ id: "i4", code: code(caught), args: [] });
      assert.equal(decodeValue(out), "LATTICE_TYPE_MISMATCH");
      // An empty key is still refused at the put itself, buffered or not.
      const empty = "async (ctx) => { try { await ctx.put('', 1); } catch (e) { return e.code; } }";
      const got = await pool.invoke({
        id: "i5",
        code: code(empty),
        args: [encodeValue(0)],
        writesBuffered: true,
      });
      assert.equal(decodeValue(got), "INVALID_KEY");
    }));
});

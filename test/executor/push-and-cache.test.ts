/**
 * Messages pushed into the worker (recv served without a host call) and the worker's value cache
 * (a get of a version the worker holds moves no bytes). The host here is a test double for the
 * node: versioned values in a Map, a log of what the worker asked.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode, HostHandler } from "../../src/node/executor/index.js";
import { decodeValue, encodeValue } from "../../src/lattice/index.js";

describe("executor: pushed messages and the worker value cache", () => {
  const values = new Map<string, { version: string; bytes: Uint8Array }>();
  const gets: { key: string; known: unknown; sentBytes: boolean }[] = [];
  let version = 0;
  let pool: ExecutorPool;
  const started = new Map<string, () => void>();

  const host: HostHandler = async (op, args, inv) => {
    const key = args[0] as string;
    if (op === "get") {
      const v = values.get(key);
      if (v === undefined) return undefined;
      const same = args[1] === v.version;
      gets.push({ key, known: args[1], sentBytes: !same });
      return same ? { version: v.version } : v;
    }
    if (op === "put") {
      values.set(key, { version: String(++version), bytes: args[1] });
      return undefined;
    }
    if (op === "send") {
      started.get(inv.id)?.();
      return undefined;
    }
    return undefined;
  };
  const code = (name: string, source: string): FunctionCode => ({
    name,
    version: "1",
    kind: "source",
    source,
  });
  const put = (key: string, v: unknown): void => {
    values.set(key, { version: String(++version), bytes: encodeValue(v) });
  };
  const invoke = async (id: string, c: FunctionCode, args: unknown[] = []): Promise<unknown> =>
    decodeValue(await pool.invoke({ id, code: c, args: args.map((a) => encodeValue(a)) }));

  before(async () => {
    pool = new ExecutorPool({ size: 1, host });
    await pool.start();
  });
  after(async () => {
    await pool.close();
  });

  it("keeps pushed messages in order, including ones sent before the function asks", async () => {
    const ready = new Promise<void>((r) => started.set("m1", r));
    const c = code(
      "collect",
      "async (ctx) => { await ctx.send('x', 'started'); const a = await ctx.recv(); const b = await ctx.recv(); const c = await ctx.recv({ timeoutMs: 20 }); return [a, b, c]; }",
    );
    const out = invoke("m1", c);
    // Delivered while queued or running, before any recv: buffered in order in the worker.
    assert.equal(pool.deliver("m1", encodeValue(1)), true);
    await ready;
    assert.equal(pool.deliver("m1", encodeValue(2)), true);
    assert.deepEqual(await out, [1, 2, undefined]);
    assert.equal(pool.deliver("m1", encodeValue(3)), false, "a finished invocation takes no mail");
    assert.equal(pool.deliver("nobody", encodeValue(1)), false);
  });

  it("serves a repeated get from the worker cache, decoded afresh each time", async () => {
    put("big", { list: [1, 2, 3] });
    const c = code(
      "mutate",
      "async (ctx) => { const a = await ctx.get('big'); a.list.push(99); const b = await ctx.get('big'); return b.list; }",
    );
    gets.length = 0;
    assert.deepEqual(await invoke("g1", c), [1, 2, 3]);
    assert.deepEqual(await invoke("g2", c), [1, 2, 3]);
    assert.deepEqual(
      gets.map((g) => g.sentBytes),
      [true, false, false, false],
      "only the first get carried bytes",
    );
    assert.equal(gets[1]?.known, values.get("big")?.version);
  });

  it("hands out private copies of cached typed arrays", async () => {
    put("vec", new Float64Array([1, 2, 3]));
    const c = code(
      "vec",
      "async (ctx) => { const a = await ctx.get('vec'); a[0] = 100; const b = await ctx.get('vec'); return [a[0], b[0], b instanceof Float64Array]; }",
    );
    gets.length = 0;
    assert.deepEqual(await invoke("t1", c), [100, 1, true]);
    assert.deepEqual(await invoke("t2", c), [100, 1, true]);
    assert.deepEqual(
      gets.map((g) => g.sentBytes),
      [true, false, false, false],
    );
  });

  it("lends a cached typed array to one invocation at a time for a reference argument, and never lets one invocation's writes reach another", async () => {
    put("lent", new Float64Array([1, 2, 3]));
    const r = { $stratusRef: "lent" };
    // Writes into its argument, then waits (so a concurrent invocation runs meanwhile).
    const c = code(
      "lent",
      "async (ctx, a, b, wait) => { const first = a[0]; a[0] = 100; await new Promise((res) => setTimeout(res, wait)); return [first, b[0], a === b]; }",
    );
    gets.length = 0;
    // Two references to one key in one invocation: two arrays, not one.
    assert.deepEqual(await invoke("l1", c, [r, r, 0]), [1, 1, false]);
    // The next invocation gets the stored content, not what l1 wrote.
    assert.deepEqual(await invoke("l2", c, [r, r, 0]), [1, 1, false]);
    // Concurrent invocations: each sees only its own write.
    const both = await Promise.all([invoke("l3", c, [r, r, 20]), invoke("l4", c, [r, r, 0])]);
    assert.deepEqual(both, [
      [1, 1, false],
      [1, 1, false],
    ]);
    // Only l1's two reads (asked together, before anything was cached) moved bytes; every later
    // one was served from the worker's cache.
    assert.equal(gets.length, 8);
    assert.deepEqual(
      gets.slice(2).map((g) => g.sentBytes),
      [false, false, false, false, false, false],
    );
  });

  it("gives a typed array too big for the worker cache to its caller uncopied, and fetches it again next time", async () => {
    const small = new ExecutorPool({ size: 1, host, valueCacheBytes: 4096 });
    await small.start();
    try {
      put("huge", new Float64Array(1024).fill(7)); // 8 KiB: more than a quarter of the cache
      const c = code(
        "huge",
        "async (ctx) => { const a = await ctx.get('huge'); a[0] = 100; const b = await ctx.get('huge'); return [a[0], b[0], b.length, a.buffer === b.buffer]; }",
      );
      gets.length = 0;
      const run = async (id: string): Promise<unknown> =>
        decodeValue(await small.invoke({ id, code: c, args: [] }));
      assert.deepEqual(await run("h1"), [100, 7, 1024, false]);
      assert.deepEqual(await run("h2"), [100, 7, 1024, false]);
      // Never kept, so never asked for by version: each get moved the bytes.
      assert.deepEqual(
        gets.map((g) => [g.known, g.sentBytes]),
        [
          [undefined, true],
          [undefined, true],
          [undefined, true],
          [undefined, true],
        ],
      );
    } finally {
      await small.close();
    }
  });

  it("runs a chain back to back, each call getting the previous result; a failure fails the rest", async () => {
    const inc = code("inc", "(ctx, x) => x + 1");
    const square = code("square", "(ctx, x) => x * x");
    const boom = code("boom", "() => { throw new Error('no'); }");
    const ok = pool.invokeChain([
      { id: "c1", code: inc, args: [encodeValue(3)] },
      { id: "c2", code: square, args: [] },
      { id: "c3", code: inc, args: [] },
    ]);
    assert.deepEqual(
      (await Promise.all(ok)).map((b) => decodeValue(b)),
      [4, 16, 17],
    );
    const bad = pool.invokeChain([
      { id: "c4", code: boom, args: [] },
      { id: "c5", code: square, args: [] },
    ]);
    await assert.rejects(bad[0] as Promise<Uint8Array>, /no/);
    await assert.rejects(bad[1] as Promise<Uint8Array>, /chain failed/);
    assert.equal(await invoke("c6", inc, [1]), 2, "the worker still serves");
  });

  it("drops a key from the worker cache on put, and follows new versions", async () => {
    put("k", "old");
    const read = code("read", "async (ctx) => ctx.get('k')");
    assert.equal(await invoke("r1", read), "old");
    put("k", "new");
    assert.equal(await invoke("r2", read), "new");
    const write = code(
      "write",
      "async (ctx) => { await ctx.get('k'); await ctx.put('k', 'mine'); return ctx.get('k'); }",
    );
    assert.equal(await invoke("w1", write), "mine");
  });
});

describe("executor: direct messages between workers", () => {
  let pool: ExecutorPool;
  const ids = new Map<string, (id: string) => void>();
  let viaNode = 0;
  const host: HostHandler = async (op, args, inv) => {
    if (op === "put") ids.get(args[0])?.(decodeValue(args[1]));
    // As the node does: numbered messages into the pool, which hints the route back.
    if (op === "send") {
      viaNode++;
      pool.deliver(args[0], args[1], inv.id, args[2]);
    }
    return undefined;
  };
  before(async () => {
    pool = new ExecutorPool({ size: 2, host });
    await pool.start();
  });
  after(async () => {
    await pool.close();
  });

  it("keeps 500 messages in order while the route switches from the node to a direct port", async () => {
    const receiverId = new Promise<string>((r) => ids.set("receiver", r));
    const code = (name: string, source: string): FunctionCode => ({
      name,
      version: "1",
      kind: "source",
      source,
    });
    const receiver = pool.invoke({
      id: "rx",
      code: code(
        "rx",
        "async (ctx, n) => { await ctx.put('receiver', ctx.id()); const got = []; for (let i = 0; i < n; i++) { const m = await ctx.recv({ timeoutMs: 5000 }); got.push(m.i); if (i === 0) await ctx.send(m.from, 'ack'); } return got; }",
      ),
      args: [encodeValue(500)],
    });
    const to = await receiverId;
    const sender = pool.invoke({
      id: "tx",
      code: code(
        "tx",
        "async (ctx, to, n) => { for (let i = 0; i < n; i++) { await ctx.send(to, { i, from: ctx.id() }); if (i === 0) await ctx.recv({ timeoutMs: 5000 }); } return n; }",
      ),
      args: [encodeValue(to), encodeValue(500)],
    });
    assert.equal(decodeValue(await sender), 500);
    assert.deepEqual(
      decodeValue(await receiver),
      Array.from({ length: 500 }, (_, i) => i),
    );
    // The first message and the ack go through the node; the route hint travels ahead of the
    // ack on the same port, so every later message goes direct.
    assert.equal(viaNode, 2, `${viaNode} messages went through the node`);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { REF_MARKER } from "../../src/function/index.js";
import type { ExecutorPool, FunctionCode } from "../../src/node/executor/index.js";
import { FunctionError, StorageUnavailableError, isStratusError } from "../../src/errors/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { run, startPool } from "./memory-host.js";
import type { MemoryHost } from "./memory-host.js";

/** Asserts that `p` rejects with a StratusError of `code` whose message matches `message`. */
async function failsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<Error> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return (
      isStratusError(e) && e.code === code && (message === undefined || message.test(e.message))
    );
  });
  return caught as Error;
}

describe("ExecutorPool.invoke", () => {
  let pool: ExecutorPool;
  let host: MemoryHost;
  before(async () => ({ pool, host } = await startPool({ size: 2 })));
  after(() => pool.close());

  it("returns the function's value, sync or async", async () => {
    assert.equal(await run(pool, "(ctx, x) => x + 1", [41]), 42);
    assert.deepEqual(await run(pool, "async (ctx, s) => ({ s, up: s.toUpperCase() })", ["a"]), {
      s: "a",
      up: "A",
    });
    assert.equal(await run(pool, "inc(ctx, x) { return x + 2; }", [1]), 3);
    assert.equal(await run(pool, "() => undefined"), undefined);
  });

  it("passes arguments in order, with rich values intact", async () => {
    const d = new Date(1_700_000_000_000);
    const out = await run(pool, "(ctx, a, b, c, d) => [d, c, b, a]", [1, "two", [3], d]);
    assert.deepEqual(out, [d, [3], "two", 1]);
  });

  it("runs a real function's toString()", async () => {
    // Under tsx this is esbuild output (it may use the __name helper), as it would be for users.
    const fn = async (
      ctx: { id(): string; get(k: string): Promise<unknown> },
      n: number,
    ): Promise<string> => `${ctx.id()}:${String(await ctx.get("nothing"))}:${n * 2}`;
    assert.equal(await run(pool, fn.toString(), [21], "call-7"), "call-7:undefined:42");
  });

  it("reports user errors as FUNCTION_ERROR with the user's message, name and stack", async () => {
    const code: FunctionCode = {
      name: "explode",
      version: "1",
      kind: "source",
      source: "(ctx) => {\n  null.boom();\n}",
    };
    const e = await failsWith(run(pool, code), "FUNCTION_ERROR", /null/);
    assert.ok(e instanceof FunctionError);
    const details = e.details ?? {};
    assert.equal(details.name, "TypeError");
    assert.match(details.stack as string, /at explode \(stratus:explode@1:2:\d+\)/);
    assert.equal(e.stack, details.stack);
    await failsWith(
      run(pool, "async () => { throw new RangeError('late'); }"),
      "FUNCTION_ERROR",
      /^late$/,
    );
    await failsWith(run(pool, "() => { throw 'a string'; }"), "FUNCTION_ERROR", /a string/);
  });

  it("rejects a return value the codec cannot encode", async () => {
    await failsWith(
      run(pool, { name: "fnret", version: "1", kind: "source", source: "() => () => 1" }),
      "FUNCTION_ERROR",
      /function fnret returned a value that cannot be encoded/,
    );
  });

  it("round-trips every ctx host operation", async () => {
    host.functions.set("double", (args) => (args[0] as number) * 2);
    const source = `async (ctx, key) => {
      await ctx.put(key, { n: 1, at: new Date(0) });
      const got = await ctx.get(key);
      await ctx.delete(key);
      const gone = await ctx.get(key);
      await ctx.send(ctx.id(), "note to self");
      const msg = await ctx.recv();
      const none = await ctx.recv({ timeoutMs: 5 });
      const doubled = await ctx.call("double", [21]);
      return { got, gone, msg, none, doubled, id: ctx.id(), state: ctx.state };
    }`;
    const out = await run(pool, source, ["k1"], "ops-1");
    assert.deepEqual(out, {
      got: { n: 1, at: new Date(0) },
      gone: undefined,
      msg: "note to self",
      none: undefined,
      doubled: 42,
      id: "ops-1",
      state: undefined,
    });
    const ops = host.log.filter((l) => l.inv.id === "ops-1");
    assert.deepEqual(
      ops.map((l) => l.op),
      ["put", "get", "delete", "get", "call"],
    );
    // Values reach the host already encoded; the invocation is identified.
    assert.ok(ops[0]!.args[1] instanceof Uint8Array);
    const { deadline, signal, ...inv } = ops[0]!.inv;
    assert.deepEqual(inv, { id: "ops-1", run: undefined, fn: "f" });
    // Given with its nested call, to cancel that if this invocation is cancelled; it was not.
    assert.ok(signal instanceof AbortSignal && !signal.aborted);
    // No deadline of its own: the end of its time limit (the pool's default, 60 s).
    assert.ok(deadline > Date.now() && deadline <= Date.now() + 60_000);
  });

  it("hands run metadata to the host", async () => {
    const code: FunctionCode = {
      name: "meta",
      version: "1",
      kind: "source",
      source: "(ctx) => ctx.get('x')",
    };
    const deadline = Date.now() + 30_000;
    await pool.invoke({ id: "meta-1", code, args: [], run: { run: "r1", attempt: 2 }, deadline });
    assert.deepEqual(host.log.at(-1)!.inv, {
      id: "meta-1",
      run: { run: "r1", attempt: 2 },
      fn: "meta",
      deadline, // sooner than the end of its 60 s time limit
    });
  });

  it("propagates a host StratusError with its own code", async () => {
    host.failWith = new StorageUnavailableError("redis is down");
    try {
      const e = await failsWith(
        run(pool, "(ctx) => ctx.get('a')"),
        "STORAGE_UNAVAILABLE",
        /redis is down/,
      );
      assert.equal((e as StorageUnavailableError).retryable, true);
      // User code can catch it and look at the code.
      const caught =
        "async (ctx) => { try { await ctx.put('a', 1); } catch (e) { return e.code; } }";
      assert.equal(await run(pool, caught), "STORAGE_UNAVAILABLE");
    } finally {
      host.failWith = undefined;
    }
  });

  it("resolves reference arguments before the call", async () => {
    host.store.set("big", encodeValue([1, 2, 3]));
    host.store.set("name", encodeValue("ada"));
    const args = [
      { [REF_MARKER]: "big" },
      7,
      { [REF_MARKER]: "name" },
      { [REF_MARKER]: "missing" },
      { [REF_MARKER]: "big", other: 1 }, // not a reference: extra fields
    ];
    const out = await run(pool, "(ctx, ...args) => args", args);
    assert.deepEqual(out, [[1, 2, 3], 7, "ada", undefined, { [REF_MARKER]: "big", other: 1 }]);
  });

  it("runs CommonJS bundles (module mode), picking the named export", async () => {
    const bundle = `"use strict";
var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, "name", { value, configurable: true });
var path = require("node:path");
function add(ctx, a, b) { return a + b; }
__name(add, "add");
module.exports = { add, base: async (ctx, p) => path.basename(p) };`;
    const code = (exportName: string): FunctionCode => ({
      name: exportName,
      version: "1",
      kind: "module",
      source: bundle,
      exportName,
    });
    assert.equal(await run(pool, code("add"), [2, 3]), 5);
    assert.equal(await run(pool, code("base"), ["/a/b/c.txt"]), "c.txt");
    await failsWith(run(pool, code("nope")), "BAD_FUNCTION", /no function export "nope"/);
  });

  it("fails code that does not compile with BAD_FUNCTION", async () => {
    await failsWith(run(pool, "(ctx => "), "BAD_FUNCTION", /cannot be compiled/);
  });

  it("refuses malformed invocations", async () => {
    const code: FunctionCode = { name: "f", version: "1", kind: "source", source: "() => 1" };
    await failsWith(
      pool.invoke({ id: "x", code, args: ["no" as unknown as Uint8Array] }),
      "INVALID_ARGUMENT",
    );
    await failsWith(
      pool.invoke({ id: "x", code: { ...code, timeoutMs: -1 }, args: [] }),
      "INVALID_ARGUMENT",
    );
  });
});

describe("init", () => {
  it("runs once per worker per version and exposes its result as ctx.state", async () => {
    const { pool, host } = await startPool({ size: 2 });
    try {
      const code: FunctionCode = {
        name: "stateful",
        version: "1",
        kind: "source",
        init: "async (ctx) => { await ctx.put('init:' + ctx.id(), 1); return { born: ctx.id() }; }",
        source: "(ctx, i) => ctx.state.born",
      };
      const borns = await Promise.all(Array.from({ length: 24 }, (_, i) => run(pool, code, [i])));
      const inits = [...host.store.keys()].filter((k) => k.startsWith("init:"));
      assert.ok(inits.length >= 1 && inits.length <= 2, `${inits.length} inits`);
      assert.deepEqual(new Set(borns), new Set(inits.map((k) => k.slice(5))));
      // A new version is initialised afresh.
      await run(pool, { ...code, version: "2" }, [0]);
      assert.ok([...host.store.keys()].filter((k) => k.startsWith("init:")).length > inits.length);
    } finally {
      await pool.close();
    }
  });

  it("fails the call when init throws, and retries init on the next call", async () => {
    const { pool } = await startPool({ size: 1 });
    try {
      const code: FunctionCode = {
        name: "flaky",
        version: "1",
        kind: "source",
        init: `async (ctx) => {
          const tries = (await ctx.get("tries")) ?? 0;
          await ctx.put("tries", tries + 1);
          if (tries === 0) throw new Error("not yet");
          return tries;
        }`,
        source: "(ctx) => ctx.state",
      };
      await failsWith(run(pool, code), "FUNCTION_ERROR", /^init of flaky failed: not yet$/);
      assert.equal(await run(pool, code), 1);
      assert.equal(await run(pool, code), 1);
    } finally {
      await pool.close();
    }
  });
});

describe("ctx after its invocation", () => {
  it("is refused, and the worker keeps serving", async () => {
    const { pool } = await startPool({ size: 1 });
    try {
      await run(pool, "(ctx) => { globalThis.saved = ctx; return 1; }");
      const stale =
        "async () => { try { await globalThis.saved.put('x', 1); return 'no'; } catch (e) { return e.code + ': ' + e.message; } }";
      assert.match(
        String(await run(pool, stale)),
        /^FUNCTION_ERROR: ctx of invocation .* was used after it returned$/,
      );
      assert.equal(await run(pool, "() => 'still here'"), "still here");
    } finally {
      await pool.close();
    }
  });
});

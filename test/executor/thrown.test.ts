import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ExecutorPool, FunctionCode } from "../../src/node/executor/index.js";
import { FunctionError, isStratusError } from "../../src/errors/index.js";
import { run, startPool } from "./memory-host.js";

/** What user code throws, as source, and what the caller's message must say about it. */
const THROWN: { what: string; value: string; message: RegExp }[] = [
  { what: "a null-prototype object", value: "Object.create(null)", message: /^\{\}$/ },
  {
    what: "a null-prototype object with fields",
    value: "Object.assign(Object.create(null), { why: 'no' })",
    message: /^\{"why":"no"\}$/,
  },
  { what: "a string", value: "'plain words'", message: /^plain words$/ },
  { what: "undefined", value: "undefined", message: /^undefined$/ },
  { what: "null", value: "null", message: /^null$/ },
  { what: "a Symbol", value: "Symbol('odd')", message: /^Symbol\(odd\)$/ },
  { what: "a number", value: "42", message: /^42$/ },
  {
    what: "an object whose getters throw",
    value: `{ get message() { throw new Error('no message'); },
              get name() { throw new Error('no name'); },
              toString() { throw new Error('no string'); },
              toJSON() { throw new Error('no json'); } }`,
    message: /^\[object Object\]$/,
  },
  {
    what: "a Proxy whose every trap throws",
    value: `new Proxy({}, new Proxy({}, { get() { return () => { throw new Error('trap'); }; } }))`,
    message: /^(\[object Object\]|an object)$/,
  },
  {
    what: "an Error subclass with a throwing toString and message getter",
    value: `new (class Weird extends Error {
              get message() { throw new Error('no message'); }
              toString() { throw new Error('no string'); }
            })()`,
    message: /^$/,
  },
  {
    what: "an Error whose message is an object",
    value: "Object.assign(new Error(), { message: { code: 7 } })",
    message: /^\{"code":7\}$/,
  },
];

const code = (name: string, source: string): FunctionCode => ({
  name,
  version: source, // the worker compiles a name and version once
  kind: "source",
  source,
});

// Counts calls in the worker's globals: the count only grows while the same worker serves.
const counter = code("count", "() => (globalThis.__calls = (globalThis.__calls ?? 0) + 1)");

describe("thrown values of any shape", () => {
  let pool: ExecutorPool;
  before(async () => ({ pool } = await startPool({ size: 1 })));
  after(() => pool.close());

  for (const { what, value, message } of THROWN) {
    for (const mode of ["sync", "async"] as const) {
      it(`${what}, thrown ${mode}, is FUNCTION_ERROR and the same worker keeps serving`, async () => {
        const before = (await run(pool, counter)) as number;
        const source =
          mode === "sync"
            ? `() => { throw ${value}; }`
            : `async () => { await null; throw ${value}; }`;
        let caught: unknown;
        await assert.rejects(run(pool, code("thrower", source)), (e: unknown) => {
          caught = e;
          return true;
        });
        assert.ok(caught instanceof FunctionError, `got ${String(caught)}`);
        assert.ok(isStratusError(caught) && caught.code === "FUNCTION_ERROR");
        assert.match(caught.message, message);
        assert.equal(caught.details?.function, "thrower");
        assert.equal(await run(pool, counter), before + 1);
      });
    }
  }

  it("reports what an init threw the same way", async () => {
    const withInit: FunctionCode = {
      ...code("badinit", "() => 1"),
      init: "() => { throw Object.create(null); }",
    };
    await assert.rejects(run(pool, withInit), (e: unknown) => {
      return (
        isStratusError(e) &&
        e.code === "FUNCTION_ERROR" &&
        /^init of badinit failed: /.test(e.message)
      );
    });
    assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [1]), 2);
  });

  it("survives a rejection user code leaves unhandled with a hostile value", async () => {
    const source = "() => { Promise.reject(Object.create(null)); return 'fine'; }";
    assert.equal(await run(pool, code("leaky", source)), "fine");
    assert.equal(await run(pool, code("inc", "(ctx, x) => x + 1"), [2]), 3);
  });
});

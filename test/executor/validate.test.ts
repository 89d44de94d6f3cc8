import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  EXECUTOR_GLOBALS,
  validateFunctionCode,
  validateFunctionSource,
} from "../../src/node/executor/index.js";
import { isStratusError } from "../../src/errors/index.js";

function rejects(source: string, pattern: RegExp, opts?: { name?: string }): void {
  assert.throws(
    () => validateFunctionSource(source, opts),
    (e: unknown) => isStratusError(e) && e.code === "BAD_FUNCTION" && pattern.test(e.message),
  );
}

describe("validateFunctionSource", () => {
  it("accepts arrows, async arrows, function expressions and method shorthand", () => {
    for (const source of [
      "(ctx, x) => x + 1",
      "async (ctx, x) => { await ctx.put('k', x); return x; }",
      "function inc(ctx, x) { return x + 1; }",
      "async function (ctx) { return ctx.id(); }",
      "inc(ctx, x) { return x + 1; }",
      "async inc(ctx, x) { return (await ctx.get('n')) + x; }",
      "x => x // a trailing comment",
    ]) {
      assert.deepEqual(validateFunctionSource(source), { ok: true }, source);
    }
  });

  it("accepts what TypeScript compiles real functions to", () => {
    const inc = async (ctx: { get(k: string): Promise<unknown> }, x: number): Promise<number> =>
      ((await ctx.get("n")) as number) + x;
    const shorthand = {
      double(_ctx: unknown, x: number): number {
        return x * 2;
      },
    };
    validateFunctionSource(inc.toString());
    validateFunctionSource(shorthand.double.toString());
  });

  it("allows the executor's globals, including __name", () => {
    const source = `(ctx, s) => {
      console.log(Math.max(1, 2), JSON.stringify({}), Buffer.from(s), new URL("http://x"));
      setTimeout(() => {}, 1); structuredClone({}); globalThis.x; new TextEncoder();
      return __name(() => 1, "one");
    }`;
    assert.deepEqual(validateFunctionSource(source), { ok: true });
    assert.ok(EXECUTOR_GLOBALS.includes("Math") && EXECUTOR_GLOBALS.includes("__name"));
  });

  it("rejects a free variable, naming it and the function", () => {
    rejects(
      "inc(ctx, x) { return x + foo; }",
      /^function "inc" uses "foo", which does not exist where functions run \(functions are shipped as source/,
    );
    rejects("(ctx) => limit * 2", /function "scale" uses "limit"/, { name: "scale" });
    rejects("function f() { return a + b; }", /uses "a" and "b", which do not exist/);
    rejects("() => { undeclared = 1; }", /uses "undeclared"/);
    rejects("() => require('fs')", /uses "require"/);
  });

  it("does not mistake locals, parameters and closures for free variables", () => {
    const source = `async (ctx, { a, b = 2 }, ...rest) => {
      const f = (y) => y + a; let i = 0; for (const r of rest) i += r;
      try { JSON.parse("x"); } catch (err) { return err.message; }
      return function inner() { return arguments.length + f(b) + i; };
    }`;
    assert.deepEqual(validateFunctionSource(source), { ok: true });
  });

  it("allowedGlobals replaces the executor's globals", () => {
    assert.deepEqual(validateFunctionSource("() => foo", { allowedGlobals: ["foo"] }), {
      ok: true,
    });
    assert.throws(
      () => validateFunctionSource("() => Math.PI", { allowedGlobals: [] }),
      /uses "Math"/,
    );
  });

  it("reports syntax errors with the parser's message, line and column", () => {
    rejects(
      "(ctx, x) => { return x +* 1 }",
      /does not parse: Unexpected token \*.*line 1, column 25/,
    );
    rejects("inc(ctx) {\n  return )\n}", /function "inc" does not parse: .*line 2, column/);
  });

  it("rejects things that are not a single function", () => {
    rejects("42", /is not a function expression/);
    rejects("class A {}", /is not a function expression/);
    rejects("a: 1", /is not a function expression \(it is an object\)/);
    rejects("function () {}) ; foo(); (function () {}", /is not a function expression/);
    rejects("a() {}, b() {}", /is not a function expression|does not parse/);
    rejects("   ", /has no source/);
  });
});

describe("validateFunctionCode", () => {
  it("checks the init function too", () => {
    const code = {
      name: "inc",
      version: "1",
      kind: "source",
      source: "(ctx) => ctx.state",
    } as const;
    assert.deepEqual(validateFunctionCode({ ...code, init: "async () => ({ n: 0 })" }), {
      ok: true,
    });
    assert.throws(
      () => validateFunctionCode({ ...code, init: "() => seed" }),
      /"inc.init" uses "seed"/,
    );
  });

  it("only parses module bundles, which may use require", () => {
    const source = "const p = require('node:path'); module.exports.f = (ctx, s) => p.basename(s);";
    assert.deepEqual(validateFunctionCode({ name: "m", version: "1", kind: "module", source }), {
      ok: true,
    });
    assert.throws(
      () =>
        validateFunctionCode({
          name: "m",
          version: "1",
          kind: "module",
          source: "module.exports = (",
        }),
      /module of function "m" does not parse/,
    );
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ExecutorPool, FunctionCode } from "../../src/node/executor/index.js";
import { isStratusError } from "../../src/errors/index.js";
import { run, startPool } from "./memory-host.js";

const code = (name: string, source: string): FunctionCode => ({
  name,
  version: source,
  kind: "source",
  source,
  timeoutMs: 60_000,
});

const oom = (e: unknown): boolean =>
  isStratusError(e) &&
  e.code === "FUNCTION_OOM" &&
  /exceeded its memory limit of 64 MB of external memory/.test(e.message);

/** Functions that hold ever more memory outside the JS heap, each by another route. */
const HOGS: Record<string, string> = {
  "Buffer.alloc in a synchronous loop": `() => {
    const keep = [];
    for (;;) keep.push(Buffer.alloc(1 << 20, 1));
  }`,
  "Buffer.allocUnsafe in an asynchronous loop": `async () => {
    const keep = [];
    for (;;) { keep.push(Buffer.allocUnsafe(1 << 20).fill(1)); await null; }
  }`,
  "typed arrays in a synchronous loop": `() => {
    const keep = [];
    for (;;) keep.push(new Float64Array(1 << 17).fill(1));
  }`,
  "ArrayBuffers kept between timer ticks": `async () => {
    const keep = [];
    for (;;) {
      keep.push(new ArrayBuffer(4 << 20));
      await new Promise((r) => setTimeout(r, 1));
    }
  }`,
  "one allocation larger than the limit": `() => Buffer.allocUnsafe(1 << 30).length`,
  "copies of a typed array by slice": `() => {
    const src = new Uint8Array(8 << 20);
    const keep = [];
    for (;;) keep.push(src.slice());
  }`,
  "copies of a typed array by map and filter": `() => {
    const src = new Float64Array(1 << 18);
    const keep = [];
    for (;;) keep.push(src.map((x) => x + 1), src.filter(() => true));
  }`,
  "copies of an ArrayBuffer by slice": `() => {
    const src = new ArrayBuffer(8 << 20);
    const keep = [];
    for (;;) keep.push(src.slice(0));
  }`,
  "TextEncoder output, between host calls": `async (ctx) => {
    const keep = [];
    const text = "x".repeat(1 << 20);
    for (;;) { keep.push(new TextEncoder().encode(text)); await ctx.get("k"); }
  }`,
};

describe("external memory limit", () => {
  let pool: ExecutorPool;
  before(async () => {
    // Alone in its worker: the limit is exactly one invocation's, and the next call waits.
    ({ pool } = await startPool({
      size: 1,
      defaultConcurrency: 1,
      maxConcurrency: 1,
      resourceLimits: { maxOldGenerationSizeMb: 64 },
      maxExternalMemoryMb: 64,
    }));
  });
  after(() => pool.close());

  for (const [what, source] of Object.entries(HOGS)) {
    it(`fails ${what} with FUNCTION_OOM; the next call succeeds`, async () => {
      const next = run(pool, code("inc", "(ctx, x) => x + 1"), [1]);
      await assert.rejects(run(pool, code("hog", source)), oom);
      assert.equal(await next, 2); // queued behind the hog: re-run on its replacement
      assert.equal(pool.stats().workers, 1);
    });
  }

  it("does not count memory that was let go, nor the executor's own value cache", async () => {
    // 256 MB allocated in all, 1 MB at a time, none of it kept: garbage, not a leak.
    const churn = `() => {
      let sum = 0;
      for (let i = 0; i < 256; i++) sum += Buffer.alloc(1 << 20, 1)[7];
      return sum;
    }`;
    assert.equal(await run(pool, code("churn", churn)), 256);
    // Holding well under the limit is allowed.
    const near = `() => {
      const keep = [];
      for (let i = 0; i < 24; i++) keep.push(Buffer.alloc(1 << 20, 1));
      return keep.length;
    }`;
    assert.equal(await run(pool, code("near", near)), 24);
  });
});

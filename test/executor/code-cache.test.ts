import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CodeCache } from "../../src/node/executor/code-cache.js";

describe("the code cache a worker and its pool mirror share", () => {
  it("evicts the least recently used version past its limit", () => {
    const cache = new CodeCache<string>(2);
    cache.admit("a", "A");
    cache.admit("b", "B");
    assert.equal(cache.admit("a"), "A"); // a is now the most recently used
    cache.admit("c", "C");
    assert.equal(cache.has("b"), false);
    assert.equal(cache.has("a"), true);
    assert.equal(cache.admit("b"), undefined, "an evicted version is not found");
  });

  it("replaces an entry whose code travels again", () => {
    const cache = new CodeCache<string>(2);
    cache.admit("a", "A1");
    assert.equal(cache.admit("a", "A2"), "A2");
    assert.equal(cache.admit("a"), "A2");
  });

  it("keeps a mirror fed the same keys in step with the cache it mirrors", () => {
    // The pool's mirror holds no code, only which keys the worker has: every decision to send
    // the code must match what the worker then finds.
    const worker = new CodeCache<string>(3);
    const mirror = new CodeCache<true>(3);
    const keys = ["a", "b", "a", "c", "d", "a", "b", "e", "e", "c", "a", "f", "b"];
    for (const k of keys) {
      const travels = !mirror.has(k);
      mirror.admit(k, travels ? true : undefined);
      const entry = worker.admit(k, travels ? k.toUpperCase() : undefined);
      assert.equal(entry, k.toUpperCase(), `the worker has ${k} when the mirror says so`);
    }
  });
});

/**
 * How errors from ioredis reach callers: a dropped connection is `STORAGE_UNAVAILABLE`
 * (retryable), never a bare `INTERNAL`. The errors are built here with the messages ioredis gives
 * them (its AbortError is not exported); the soak benchmark kills a real Redis under load and
 * counts any other code as unexpected.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapRedisError } from "../../src/storage/redis/errors.js";
import { isStratusError } from "../../src/errors/index.js";

function aborted(): Error {
  // ioredis (redis/event_handler.js) aborts the rest of a pipeline answered only in part.
  const e = new Error("Command aborted due to connection close");
  e.name = "AbortError";
  return e;
}

describe("storage: Redis errors as callers see them", () => {
  it("an unknown Redis error is INTERNAL and not retryable (control)", () => {
    const e = mapRedisError(new Error("ERR something else"));
    assert.ok(isStratusError(e));
    assert.equal(e.code, "INTERNAL");
  });

  for (const make of [
    aborted,
    () => new Error("Connection is closed."),
    () => new Error("connect ECONNREFUSED 127.0.0.1:6379"),
    // Seen in test/runtime/redis-restart.test.ts after a Cluster master restart.
    () => new Error("MOVED 9500 127.0.0.1:33979"),
    () => new Error("ASK 3999 127.0.0.1:6381"),
  ]) {
    const err = make();
    it(`"${err.message}" is STORAGE_UNAVAILABLE, retryable`, () => {
      const e = mapRedisError(err, "k");
      assert.ok(isStratusError(e));
      assert.equal(e.code, "STORAGE_UNAVAILABLE");
      assert.equal(e.retryable, true);
      assert.equal(e.cause, err);
    });
  }
});

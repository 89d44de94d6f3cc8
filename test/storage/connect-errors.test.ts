/**
 * A store that cannot be reached says why: a missing password, a wrong one and a server that is
 * down each get their own message and `details.cause`, where all three used to read
 * "Connection is closed". Real redis-server processes; the control is the right password.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isStratusError } from "../../src/errors/index.js";
import { RedisStore } from "../../src/storage/index.js";
import { RedisServer, freePort } from "../../testing/redis.js";

describe("storage: why a Redis connect failed", () => {
  let redis: RedisServer;

  before(async () => {
    redis = await RedisServer.start({ args: ["--requirepass", "sekrit"] });
  });
  after(async () => {
    await redis.stop();
  });

  const failure = async (o: { url: string; password?: string }): Promise<Error> => {
    try {
      const s = await RedisStore.connect({ ...o, connectTimeoutMs: 5000 });
      await s.close();
    } catch (e) {
      return e as Error;
    }
    return assert.fail("connected");
  };
  const causeOf = (e: Error): unknown => (isStratusError(e) ? e.details?.["cause"] : undefined);

  it("connects with the right password (the control)", async () => {
    const s = await RedisStore.connect({ url: redis.url, password: "sekrit" });
    await s.close();
  });

  it("names a missing password", async () => {
    const e = await failure({ url: redis.url });
    assert.match(e.message, /needs a password and none was given/);
    assert.equal(causeOf(e), "authentication");
    assert.equal(isStratusError(e) && e.retryable, false);
  });

  it("names a wrong password", async () => {
    const e = await failure({ url: redis.url, password: "nope" });
    assert.match(e.message, /refused the password \(WRONGPASS\)/);
    assert.doesNotMatch(e.message, /nope/);
    assert.equal(causeOf(e), "authentication");
  });

  it("names a refused connection", async () => {
    const e = await failure({ url: `redis://127.0.0.1:${await freePort()}` });
    assert.match(e.message, /refused the connection: is it running there\?/);
    assert.equal(causeOf(e), "refused");
    assert.equal(isStratusError(e) && e.code, "STORAGE_UNAVAILABLE");
  });
});

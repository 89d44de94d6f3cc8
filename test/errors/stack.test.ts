/**
 * A function's error reads, on the client, like a local one: its stack is the function's own
 * (where it threw, inside the function) followed by the caller's frames, where it used to be
 * the client's message-handling internals with the function's stack hidden in details.stack.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";

describe("errors: a function error's stack", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 1, token: "stack" });
    await cloud.register("boom", () => {
      function deepInsideTheFunction(): never {
        throw new TypeError("kaboom");
      }
      deepInsideTheFunction();
    });
  });
  after(async () => {
    await cloud.close();
  });

  it("is the function's stack, then the caller's frames", async () => {
    async function theCallersOwnFrame(): Promise<unknown> {
      try {
        await cloud.call("boom");
      } catch (e) {
        return e;
      }
      return assert.fail("no error");
    }
    const e = (await theCallersOwnFrame()) as Error;
    assert.ok(isStratusError(e) && e.code === "FUNCTION_ERROR");
    const stack = e.stack ?? "";
    assert.match(stack, /^TypeError: kaboom/);
    const inner = stack.indexOf("deepInsideTheFunction");
    const outer = stack.indexOf("theCallersOwnFrame");
    assert.ok(inner > 0, `the function's frame is in the stack:\n${stack}`);
    assert.ok(outer > inner, `the caller's frame follows it:\n${stack}`);
    // The function's stack is still where it was, for code that read it there.
    assert.match(String(e.details?.["stack"]), /deepInsideTheFunction/);
  });
});

/**
 * The one retry decision (src/errors/retry.ts) against the rules it replaced, written out here
 * as they were: the client's `isRetryable` and the dispatcher's `retryOnResult`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ClosedError,
  ERROR_CODES,
  NodeLostError,
  REACTIONS,
  StorageUnavailableError,
  StratusError,
  backoffMs,
  fromWireError,
  reaction,
  toWireError,
} from "../../src/errors/index.js";
import type { ErrorCode } from "../../src/errors/index.js";

/** The client's rule before: resend a read-atomic call when this held. */
const oldClient = (e: StratusError): boolean =>
  e.retryable || e.code === "NODE_LOST" || e.code === "CLOSED";

/** The dispatcher's rule before: relaunch a run whose result failed with these. */
const OLD_RELAUNCH: readonly ErrorCode[] = ["SNAPSHOT_CONFLICT", "NODE_LOST", "TXN_FENCED"];

/** The class defaults of `retryable` before, for the codes whose class defaulted to true. */
const OLD_RETRYABLE: readonly ErrorCode[] = [
  "STORAGE_UNAVAILABLE",
  "TIMEOUT",
  "NO_RESOURCES",
  "NODE_LOST",
  "OVERLOADED",
  "TXN_ABORTED",
  "TXN_FENCED",
  "SNAPSHOT_CONFLICT",
];

describe("reaction: one retry decision per code", () => {
  it("relaunches exactly what the dispatcher relaunched, whatever the error's flag", () => {
    for (const code of ERROR_CODES) {
      for (const retryable of [true, false]) {
        const e = new StratusError(code, "m", { retryable });
        assert.equal(reaction(e) === "relaunch", OLD_RELAUNCH.includes(code), code);
        // Its wire form gets the same answer, as the dispatcher sees a run's result.
        assert.equal(reaction(toWireError(e)), reaction(e), code);
      }
    }
  });

  it("keeps every class default of retryable but CLOSED's, which is now retryable", () => {
    for (const code of ERROR_CODES) {
      const e = new StratusError(code, "m");
      assert.equal(e.retryable, OLD_RETRYABLE.includes(code) || code === "CLOSED", code);
      assert.equal(e.retryable, REACTIONS[code] !== "fail", code);
    }
  });

  it("resends what the client resent, for every code as its class raises it and as the wire carries it", () => {
    for (const code of ERROR_CODES) {
      for (const retryable of [undefined, true]) {
        const e = fromWireError(toWireError(new StratusError(code, "m", { retryable })));
        assert.equal(reaction(e) !== "fail", oldClient(e), `${code} retryable ${retryable}`);
      }
    }
  });

  it("differs from the old client rule only where the error says it is final", () => {
    // A closed object of the caller's own (its transaction, its client) says so; the client
    // resent those before, to no avail.
    const own = new ClosedError("this client is closed", { retryable: false });
    assert.equal(reaction(own), "fail");
    assert.equal(oldClient(own), true);
    // A dropped connection or a component shutting down is resent, as before.
    assert.equal(reaction(new ClosedError("connection closed")), "retry");
    // Storage that failed for good is not, as before; storage briefly away is.
    assert.equal(reaction(new StorageUnavailableError("log failed", { retryable: false })), "fail");
    assert.equal(reaction(new StorageUnavailableError("Redis unavailable")), "retry");
    // A lost node is relaunched even from a wire error that says it is not retryable.
    assert.equal(reaction(toWireError(new NodeLostError("n2", { retryable: false }))), "relaunch");
  });

  it("fails anything that is not a Stratus error or names no known code", () => {
    for (const e of [new Error("x"), "x", null, undefined, { code: "NOPE", retryable: true }]) {
      assert.equal(reaction(e), "fail");
    }
  });

  it("backs off by doubling from 100 ms up to 5 s, or as asked", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 30].map((a) => backoffMs(a)),
      [100, 200, 400, 800, 1600, 3200, 5000, 5000],
    );
    assert.equal(backoffMs(2, { baseMs: 10, maxMs: 30 }), 30);
    assert.equal(backoffMs(-1), 100);
  });
});

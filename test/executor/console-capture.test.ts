/**
 * A worker's console capture is bounded: a function logging in a tight loop posts at most
 * MAX_LOG_LINES_PER_SECOND lines a second to the main thread, and the next second says how many
 * were dropped. The clock is the test's, so the windows are exact.
 */
import assert from "node:assert/strict";
import { Console } from "node:console";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { ConsoleCapture, MAX_LOG_LINES_PER_SECOND } from "../../src/node/executor/console.js";
import type { LogMsg } from "../../src/node/executor/types.js";

describe("executor: console capture", () => {
  it("posts every line under the bound (control), drops past it and reports the drops", () => {
    const posted: LogMsg[] = [];
    let now = 0;
    const capture = new ConsoleCapture(
      (m) => posted.push(m),
      () => now,
    );
    const c = new Console(new PassThrough());
    capture.install(c);
    capture.run("n.1", "chatty", () => {
      for (let i = 0; i < 10; i++) c.log(`line ${i}`);
    });
    assert.equal(posted.length, 10, "control: a few lines all arrive");
    assert.deepEqual(posted[3], { t: "log", l: "info", m: "line 3", inv: "n.1", fn: "chatty" });

    posted.length = 0;
    now = 5_000;
    capture.run("n.2", "loop", () => {
      for (let i = 0; i < 5 * MAX_LOG_LINES_PER_SECOND; i++) c.log(`spam ${i}`);
    });
    assert.equal(posted.length, MAX_LOG_LINES_PER_SECOND);
    now += 1_000;
    c.warn("next second");
    assert.equal(posted.length, MAX_LOG_LINES_PER_SECOND + 2);
    assert.match(posted.at(-2)?.m ?? "", /^\(4000 console lines dropped/);
    assert.equal(posted.at(-1)?.m, "next second");
  });
});

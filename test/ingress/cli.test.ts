/**
 * `stratus up --http-port`: the CLI child serves the HTTP ingress, and curl calls the demo
 * function through it as the README shows.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startStratus } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const run = promisify(execFile);

describe("ingress: stratus up --http-port", () => {
  const token = "cli-http-token";
  let child: Child;

  before(async () => {
    child = await startStratus(
      ["up", "--token", token, "--executors", "1", "--http-port", "0", "--demo"],
      /http: (\S+)\n/,
    );
  });
  after(async () => {
    await child.stop();
  });

  it("calls the demo function over HTTP", async () => {
    const { stdout } = await run("curl", [
      "-sS",
      "-H",
      `Authorization: Bearer ${token}`,
      "-d",
      '{"args": [1]}',
      `${child.ready}/v1/call/inc`,
    ]);
    assert.deepEqual(JSON.parse(stdout), { result: 2 });
  });
});

/**
 * A run started with an AbortSignal (a nested `ctx.call`, whose caller may be cancelled): aborting
 * it fails the run at once with the signal's reason and tells the node of each of its functions
 * to cancel them (the same `cancel` a competing replica's loser gets).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledError } from "../../src/errors/index.js";
import { encodeValue } from "../../src/lattice/index.js";
import { Dispatcher, Peers, Placer, singleFunctionDag } from "../../src/scheduler/index.js";
import type { Member } from "../../src/scheduler/index.js";

const ADDR = "stratus://127.0.0.1:1";

function setup(): { dispatcher: Dispatcher; sent: { method: string; payload: unknown }[] } {
  const sent: { method: string; payload: unknown }[] = [];
  const peers = new Peers({ id: "s", role: "scheduler", token: "t", handlers: {} });
  // Every node is this address, so what the dispatcher sends stays in `sent`.
  peers.setLocal(ADDR, (method, payload) => void sent.push({ method, payload }));
  const node: Member = {
    id: "n1",
    addr: ADDR,
    executors: 1,
    busy: 0,
    queued: 0,
    cached: [],
    startedAt: 0,
    seenAt: 0,
  };
  const dispatcher = new Dispatcher({ addr: ADDR, peers, placer: new Placer(() => [node]) });
  return { dispatcher, sent };
}

const microtasks = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("dispatcher: cancelling a run through its signal", () => {
  it("fails the run with the reason and sends its node a cancel for its function", async () => {
    const { dispatcher, sent } = setup();
    const ac = new AbortController();
    const req = { def: singleFunctionDag("inner"), inputs: { inner: [encodeValue(1)] } };
    const running = dispatcher.run({ ...req, signal: ac.signal });
    await microtasks();
    const trigger = sent.find((s) => s.method === "trigger")?.payload as {
      meta: { run: string; attempt: number; deadline: number };
    };
    assert.ok(trigger !== undefined, "the run was triggered");
    ac.abort(new CancelledError("the caller was cancelled"));
    await assert.rejects(running, { code: "CANCELLED", message: /caller was cancelled/ });
    await microtasks();
    const { run, attempt, deadline } = trigger.meta;
    assert.deepEqual(
      sent.filter((s) => s.method === "cancel").map((s) => s.payload),
      [{ run, attempt, fn: "inner", deadline }],
    );
    assert.equal(dispatcher.inFlight, 0);
  });

  it("control: a run whose signal is never aborted sends no cancel; one aborted before it starts never starts", async () => {
    const { dispatcher, sent } = setup();
    const req = { def: singleFunctionDag("inner"), inputs: { inner: [] } };
    const kept = new AbortController();
    const finished = dispatcher.run({ ...req, signal: kept.signal, options: { timeoutMs: 50 } });
    await assert.rejects(finished, { code: "TIMEOUT" });
    kept.abort(new CancelledError("too late to matter"));
    const gone = new AbortController();
    gone.abort(new CancelledError("gone"));
    await assert.rejects(dispatcher.run({ ...req, signal: gone.signal }), { code: "CANCELLED" });
    await microtasks();
    assert.deepEqual(
      sent.map((s) => s.method),
      ["trigger"],
      "no cancel for a finished run, no trigger for a run cancelled before it started",
    );
  });
});

/**
 * A burst of big arguments is not an attack: real scheduler and node processes over Redis, an SDK
 * in this process, 30 calls of 8 MiB each at once. Back-pressure queues what the socket cannot
 * take yet, so every call is answered; a node that pauses for a second during the burst is not
 * marked lost (membership decides that, not a local write buffer).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import { RedisServer } from "../../testing/redis.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const TOKEN = "burst-token";
const MiB = 1024 * 1024;
const N = 30;

/** 8 MiB arguments, each filled with its own index so a mix-up shows. */
const big = Array.from({ length: N }, (_, i) => new Uint8Array(8 * MiB).fill(i));

function describeFailures(results: PromiseSettledResult<unknown>[]): string {
  const codes = results.map((r) =>
    r.status === "fulfilled" ? "ok" : isStratusError(r.reason) ? r.reason.code : String(r.reason),
  );
  const counts = new Map<string, number>();
  for (const c of codes) counts.set(c, (counts.get(c) ?? 0) + 1);
  return JSON.stringify(Object.fromEntries(counts));
}

describe("runtime: a burst of 8 MiB arguments against real processes", () => {
  let redis: RedisServer;
  let scheduler: Child;
  let node: Child;
  let client: Stratus;

  before(async () => {
    redis = await RedisServer.start();
    const store = `${redis.url}?prefix=burst-${randomUUID().slice(0, 8)}:`;
    scheduler = await startStratus(
      ["scheduler", "--store", store, "--token", TOKEN],
      /scheduler \S+ at (\S+)\n/,
    );
    node = await startStratus(
      ["node", "--join", scheduler.ready, "--token", TOKEN, "--executors", "4", "--id", "nb"],
      /node (\S+) joined/,
    );
    client = await Stratus.connect(scheduler.ready, { token: TOKEN });
    await until(async () => (await client.status()).nodes.length === 1, 10_000, "the node");
    await client.register("size", (_ctx, x: Uint8Array) => [x.byteLength, x[0], x[x.length - 1]]);
  });

  after(async () => {
    await client?.close();
    await node?.stop();
    await scheduler?.stop();
    await redis?.stop();
  });

  it("answers 30 concurrent calls of 8 MiB each on one SDK connection", async () => {
    const results = await Promise.allSettled(
      big.map((x) => client.call<[number, number, number]>("size", [x], { timeoutMs: 60_000 })),
    );
    assert.ok(
      results.every((r) => r.status === "fulfilled"),
      `outcomes: ${describeFailures(results)}`,
    );
    results.forEach((r, i) => {
      assert.deepEqual((r as PromiseFulfilledResult<unknown>).value, [8 * MiB, i, i]);
    });
  });

  /** Pauses the node (SIGSTOP) for `ms` while `calls` run, and settles them all. */
  async function withNodePaused<T>(ms: number, calls: () => Promise<T>[]) {
    node.proc.kill("SIGSTOP");
    let resumed = false;
    const resume = (): void => {
      if (resumed) return;
      resumed = true;
      node.proc.kill("SIGCONT");
    };
    try {
      const pending = calls();
      // The pause is the fault being injected, not a wait for an event: 1 s, as a GC or a
      // scheduling hiccup of the node's host might hold it.
      const pausedAt = performance.now();
      await until(async () => performance.now() - pausedAt >= ms, ms + 5_000, "the pause");
      resume();
      return await Promise.allSettled(pending);
    } finally {
      resume();
    }
  }

  it("control: a 1 s pause of the node during 30 small calls fails none", async () => {
    const results = await withNodePaused(1_000, () =>
      Array.from({ length: N }, (_, i) =>
        client.call<[number, number, number]>("size", [new Uint8Array([i])], {
          timeoutMs: 60_000,
        }),
      ),
    );
    assert.equal(describeFailures(results), JSON.stringify({ ok: N }));
  });

  it("a 1 s pause of the node during a burst of 30 x 8 MiB (one client each) fails none", async () => {
    // One client per call, so no SDK connection holds more than one argument: the burst
    // piles up on the scheduler's link to the node alone.
    const clients = await Promise.all(
      big.map(() => Stratus.connect(scheduler.ready, { token: TOKEN })),
    );
    try {
      const results = await withNodePaused(1_000, () =>
        clients.map((c, i) =>
          c.call<[number, number, number]>("size", [big[i]], { timeoutMs: 60_000 }),
        ),
      );
      assert.equal(describeFailures(results), JSON.stringify({ ok: N }));
      results.forEach((r, i) => {
        assert.deepEqual((r as PromiseFulfilledResult<unknown>).value, [8 * MiB, i, i]);
      });
      // The node is still a member: nothing marked it lost.
      assert.deepEqual(
        (await client.status()).nodes.map((n) => n.id),
        ["nb"],
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

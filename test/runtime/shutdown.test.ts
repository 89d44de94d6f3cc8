/**
 * SIGTERM stops a process within a few seconds even when its storage is gone: Redis killed
 * (connections refused) or frozen (connections open, nothing answered). Real `stratus`
 * processes, a real redis-server stopped with SIGKILL or SIGSTOP. Before the close budget each
 * goodbye to storage waited out the store's 5 s operation timeout in turn: 17-22 s with Redis
 * killed, and with Redis frozen the process was still up a minute later.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const token = "shutdown-token";
/** Far above the 2 s budget plus local teardown, far below what storage timeouts added up to. */
const BOUND_MS = 8_000;

/** SIGTERMs `c` and resolves with its exit code and how long it took; SIGKILLs it past `ms`. */
async function terminate(c: Child, ms: number): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  const exited = once(c.proc, "exit") as Promise<[number | null, string | null]>;
  c.proc.kill("SIGTERM");
  const timer = setTimeout(() => c.proc.kill("SIGKILL"), ms);
  const [code] = await exited;
  clearTimeout(timer);
  return { code, ms: Math.round(performance.now() - t0) };
}

/** Starts `stratus up` over `redis` with the autoscaler (so it holds a lease) and a node. */
function up(redis: RedisServer): Promise<Child> {
  return startStratus(
    ["up", "--token", token, "--store", redis.url, "--autoscale", "--executors", "1"],
    /Stratus is up at (\S+)\n/,
  );
}

describe("shutdown with storage down", () => {
  it("Redis killed: a process that holds a lease, a node and subscriptions exits at once", async () => {
    const redis = await RedisServer.start();
    const proc = await up(redis);
    const client = await Stratus.connect(proc.ready, { token });
    try {
      await client.put("k", 1);
      // Control: with Redis stopped, the process's storage operations fail.
      await redis.kill("SIGKILL");
      await assert.rejects(client.put("k", 2), { code: "STORAGE_UNAVAILABLE" });
      const { code, ms } = await terminate(proc, 60_000);
      assert.equal(code, 0, "it closed, not killed by the backstop or by the test");
      assert.ok(ms < BOUND_MS, `exited ${ms} ms after SIGTERM`);
    } finally {
      await client.close();
      await proc.stop();
      await redis.stop();
    }
  });

  it("Redis frozen: a gateway and a node that joined it both exit at once", async () => {
    const redis = await RedisServer.start();
    const gateway = await up(redis);
    const node = await startStratus(
      ["node", "--join", gateway.ready, "--token", token, "--executors", "1", "--id", "joined"],
      /node (\S+) joined/,
    );
    const client = await Stratus.connect(gateway.ready, { token });
    try {
      await until(async () => (await client.status()).nodes.length === 2, 10_000, "two nodes");
      redis.pause();
      // Control: nothing is answered, so storage operations fail at their deadline.
      await assert.rejects(client.put("k", 2), { code: "STORAGE_UNAVAILABLE" });
      const [g, n] = await Promise.all([terminate(gateway, 60_000), terminate(node, 60_000)]);
      assert.deepEqual([g.code, n.code], [0, 0], "both closed, not killed");
      assert.ok(g.ms < BOUND_MS && n.ms < BOUND_MS, `exited ${g.ms} and ${n.ms} ms after SIGTERM`);
    } finally {
      await client.close();
      await Promise.all([gateway.stop(), node.stop()]);
      await redis.stop();
    }
  });
});

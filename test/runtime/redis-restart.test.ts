/**
 * A cluster over Redis survives Redis itself: restarts (with and without persistence) and stalls.
 * Everything is real: redis-server processes killed with SIGKILL or frozen with SIGSTOP, Stratus
 * processes talking over loopback sockets, clients calling through the gateway.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { RedisStore, Stratus, isStratusError } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { startStratus, until } from "../../testing/processes.js";
import { RedisCluster, RedisServer } from "../../testing/redis.js";

const token = "redis-restart-token";

interface Tally {
  ok: number;
  /** Codes of the retryable typed errors seen. */
  retryable: string[];
  /** Anything else: a wrong result, an untyped or a non-retryable error. */
  bad: string[];
}

/** `clients` callers, each calling inc in a loop until stopped. */
function callers(clients: Stratus[], tally: Tally): { stop: () => Promise<void> } {
  let stopped = false;
  let seq = 0;
  const lanes = clients.map(async (c) => {
    while (!stopped) {
      const x = seq++;
      try {
        const y = await c.call<number>("keep", [x], { timeoutMs: 10_000 });
        if (y === x + 1) tally.ok++;
        else tally.bad.push(`inc(${x}) = ${y}`);
      } catch (e) {
        if (isStratusError(e) && e.retryable) tally.retryable.push(e.code);
        else tally.bad.push(String(e));
      }
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(lanes);
    },
  };
}

/** Resolves once every client gets a right answer to a fresh call. */
async function allSucceed(clients: Stratus[]): Promise<boolean> {
  const results = await Promise.allSettled(
    clients.map((c, i) => c.call<number>("inc", [i], { timeoutMs: 2_000 })),
  );
  return results.every((r, i) => r.status === "fulfilled" && r.value === i + 1);
}

async function notifyFlags(port: number): Promise<string> {
  const r = new Redis(port, "127.0.0.1");
  try {
    return (await r.config("GET", "notify-keyspace-events"))[1] ?? "";
  } finally {
    r.disconnect();
  }
}

/**
 * A scheduler+node process and a node-only process over `url`. Their stores have a 1 s operation
 * deadline, so an outage shows up in calls within a second rather than the default five.
 */
async function startCluster(
  at: string | { host: string; port: number }[],
): Promise<{ procs: StratusProcess[]; clients: Stratus[]; close: () => Promise<void> }> {
  const where = typeof at === "string" ? { url: at } : { cluster: at };
  const stores = await Promise.all(
    // A cluster client's first connect (slots discovery) can take longer on a loaded machine.
    [0, 1].map(() =>
      RedisStore.connect({ ...where, opTimeoutMs: 1_000, connectTimeoutMs: 10_000 }),
    ),
  );
  const [s0, s1] = stores as [RedisStore, RedisStore];
  const gateway = await StratusProcess.start({ token, store: s0, executors: 1 });
  const worker = await StratusProcess.start({ token, store: s1, executors: 1, scheduler: false });
  const clients = await Promise.all(
    Array.from({ length: 4 }, () => Stratus.connect(gateway.url, { token })),
  );
  return {
    procs: [gateway, worker],
    clients,
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await worker.close();
      await gateway.close();
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

describe("runtime: Redis restarts and stalls", () => {
  it("4 clients keep calling while a durable Redis is restarted twice", async () => {
    const server = await RedisServer.start({ durable: true });
    const cluster = await startCluster(server.url).catch(async (e: unknown) => {
      await server.stop();
      throw e;
    });
    const { clients } = cluster;
    try {
      await clients[0]?.register("inc", async (_ctx, x: number) => x + 1);
      // Writes through the node's store, so an outage shows in calls.
      await clients[0]?.register("keep", async (ctx, x: number) => {
        await ctx.put(`k/${x % 64}`, x);
        return x + 1;
      });
      await until(
        async () => (await clients[0]?.status())?.nodes.length === 2,
        10_000,
        "two nodes",
      );
      const tally: Tally = { ok: 0, retryable: [], bad: [] };
      const load = callers(clients, tally);
      const recoveries: number[] = [];
      for (let round = 0; round < 2; round++) {
        const okBefore = tally.ok;
        await until(async () => tally.ok >= okBefore + 50, 20_000, "calls before the restart");
        await server.kill("SIGKILL");
        const failedBefore = tally.retryable.length;
        // The control: with Redis gone, calls do fail (with retryable errors).
        await until(async () => tally.retryable.length > failedBefore, 20_000, "failed calls");
        await server.start();
        // The server forgot notify-keyspace-events; the store re-applies it on reconnect.
        recoveries.push(await until(() => allSucceed(clients), 3_000, "recovery within 3 s"));
        await until(
          async () => (await notifyFlags(server.port)).includes("K"),
          3_000,
          "keyspace notifications re-enabled",
        );
      }
      const okBefore = tally.ok;
      await until(async () => tally.ok >= okBefore + 50, 20_000, "calls after the restarts");
      await load.stop();
      assert.deepEqual(tally.bad, [], "every call ended in a result or a retryable typed error");
      assert.ok(tally.retryable.length > 0, "the outages were seen by callers");
      assert.equal((await clients[0]?.status())?.nodes.length, 2, "both nodes are still members");
      console.log(
        `# ${tally.ok} calls ok, ${tally.retryable.length} retryable errors ` +
          `(${[...new Set(tally.retryable)].join(", ")}); recovered in ` +
          recoveries.map((ms) => `${ms.toFixed(0)} ms`).join(", "),
      );
    } finally {
      await cluster.close();
      await server.stop();
    }
  });

  it("a Redis Cluster master restart is survived: calls succeed again, notifications return", async () => {
    const redis = await RedisCluster.start(3, true);
    const cluster = await startCluster(redis.seeds).catch(async (e: unknown) => {
      await redis.stop();
      throw e;
    });
    const { clients } = cluster;
    const victim = redis.nodes[1] as RedisServer;
    try {
      await clients[0]?.register("inc", async (_ctx, x: number) => x + 1);
      await clients[0]?.register("keep", async (ctx, x: number) => {
        await ctx.put(`k/${x % 64}`, x);
        return x + 1;
      });
      await until(
        async () => (await clients[0]?.status())?.nodes.length === 2,
        10_000,
        "two nodes",
      );
      const tally: Tally = { ok: 0, retryable: [], bad: [] };
      const load = callers(clients, tally);
      await until(async () => tally.ok >= 50, 20_000, "calls before the restart");
      await victim.kill("SIGKILL");
      // The control: keys on the dead master cannot be written, so calls fail meanwhile.
      await until(async () => tally.retryable.length > 0, 20_000, "failed calls");
      await victim.start();
      await redis.waitUntilOk();
      const ms = await until(() => allSucceed(clients), 3_000, "recovery within 3 s");
      await until(
        async () => (await notifyFlags(victim.port)).includes("K"),
        10_000,
        "keyspace notifications re-enabled on the restarted master",
      );
      const okBefore = tally.ok;
      await until(async () => tally.ok >= okBefore + 50, 20_000, "calls after the restart");
      await load.stop();
      assert.deepEqual(tally.bad, [], "every call ended in a result or a retryable typed error");
      assert.equal((await clients[0]?.status())?.nodes.length, 2);
      console.log(
        `# cluster: ${tally.ok} calls ok, recovered ${ms.toFixed(0)} ms after cluster ok`,
      );
    } finally {
      await cluster.close();
      await redis.stop();
    }
  });

  it("after a restart that lost every key, nodes re-create their records and are seen again", async () => {
    const server = await RedisServer.start({ durable: false });
    const cluster = await startCluster(server.url).catch(async (e: unknown) => {
      await server.stop();
      throw e;
    });
    const [client] = cluster.clients as [Stratus];
    try {
      await client.register("inc", async (_ctx, x: number) => x + 1);
      await until(async () => (await client.status()).nodes.length === 2, 10_000, "two nodes");
      await server.kill("SIGKILL");
      await server.start();
      // The control: the restarted server is empty and has no notifications configured.
      const probe = new Redis(server.port, "127.0.0.1");
      try {
        assert.equal(await probe.dbsize(), 0, "nothing survived the restart");
      } finally {
        probe.disconnect();
      }
      // The heartbeats re-create both node records; schedulers see them; re-registered code runs.
      await until(
        async () => {
          const probe2 = new Redis(server.port, "127.0.0.1");
          try {
            return (await probe2.keys("stratus:sys/node/*")).length === 2;
          } finally {
            probe2.disconnect();
          }
        },
        3_000,
        "node records re-created",
      );
      await until(async () => (await client.status()).nodes.length === 2, 3_000, "two nodes");
      await until(
        async () => {
          try {
            await client.register("inc", async (_ctx, x: number) => x + 1);
            return (await client.call("inc", [1], { timeoutMs: 2_000 })) === 2;
          } catch {
            return false;
          }
        },
        3_000,
        "calls after re-registering",
      );
      assert.ok((await notifyFlags(server.port)).includes("K"), "notifications re-enabled");
    } finally {
      await cluster.close();
      await server.stop();
    }
  });

  it("a stall of Redis (DEBUG SLEEP 1.5 s, then SIGSTOP for 3 s) drops no node", async () => {
    const server = await RedisServer.start();
    const cluster = await startCluster(server.url).catch(async (e: unknown) => {
      await server.stop();
      throw e;
    });
    const [client] = cluster.clients as [Stratus];
    const admin = new Redis(server.port, "127.0.0.1");
    try {
      await client.register("inc", async (_ctx, x: number) => x + 1);
      await until(async () => (await client.status()).nodes.length === 2, 10_000, "two nodes");
      const seen = new Set<number>();
      // Sample membership all along; a drop that is repaired at once would still be caught.
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          try {
            seen.add((await client.status()).nodes.length);
          } catch (e) {
            // Status reads storage too and may fail during the stall: not a membership answer.
            if (isStratusError(e) && e.code === "CLOSED") return;
          }
        }
      })();
      await admin.call("DEBUG", "SLEEP", "1.5");
      assert.equal(await client.call("inc", [1], { timeoutMs: 5_000 }), 2);
      server.pause();
      const frozenAt = performance.now();
      await until(async () => performance.now() - frozenAt > 3_000, 5_000, "a 3 s freeze");
      server.resume();
      assert.equal(await client.call("inc", [2], { timeoutMs: 5_000 }), 3);
      // Past the expiry window after the stall, so a late drop would show.
      const after = performance.now();
      await until(async () => performance.now() - after > 3_000, 5_000, "the expiry window");
      sampling = false;
      await sampler;
      assert.deepEqual([...seen], [2], "membership never lost a node");
      assert.equal((await client.status()).nodes.length, 2);
    } finally {
      admin.disconnect();
      await cluster.close();
      await server.stop();
    }
  });

  it("the record of a SIGKILLed node is deleted once it expires", async () => {
    const server = await RedisServer.start();
    const gateway = await StratusProcess.start({ token, store: server.url, executors: 1 });
    const client = await Stratus.connect(gateway.url, { token });
    const probe = new Redis(server.port, "127.0.0.1");
    const doomed = await startStratus(
      ["node", "--join", gateway.url, "--token", token, "--executors", "1", "--id", "doomed"],
      /node (\S+) joined/,
    );
    const key = "stratus:sys/node/doomed";
    try {
      await until(async () => (await client.status()).nodes.length === 2, 10_000, "two nodes");
      doomed.proc.kill("SIGKILL");
      await once(doomed.proc, "exit");
      // The control: a crashed node removes nothing itself.
      assert.equal(await probe.exists(key), 1, "the crashed node's record is still there");
      await until(async () => (await probe.exists(key)) === 0, 10_000, "the record deleted");
      assert.deepEqual(
        (await client.status()).nodes.map((n) => n.id),
        [gateway.id],
      );
    } finally {
      probe.disconnect();
      await doomed.stop();
      await client.close();
      await gateway.close();
      await server.stop();
    }
  });
});

/**
 * Stratus as separate processes over Redis on loopback: 2 schedulers and 3 nodes, each its own
 * OS process started through the CLI. DAG functions land on different nodes; a node killed with
 * SIGKILL mid-load costs no call a hang: every call completes or fails with a clear error.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import { RedisServer } from "../../testing/redis.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const TOKEN = "multi-process-token";

describe("runtime: 2 schedulers and 3 nodes as separate processes", () => {
  let own: RedisServer | undefined;
  const children: Child[] = [];
  const nodes = new Map<string, Child>();
  let spread: Stratus;
  let local: Stratus;

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    const store = `${redis}?prefix=mp-${randomUUID().slice(0, 8)}:`;
    const sched = (placement: string): Promise<Child> =>
      startStratus(
        ["scheduler", "--store", store, "--token", TOKEN, "--placement", placement],
        /scheduler \S+ at (\S+)\n/,
      );
    const [s1, s2] = await Promise.all([sched("spread"), sched("locality")]);
    children.push(s1, s2);
    const started = await Promise.all(
      ["na", "nb", "nc"].map((id) =>
        startStratus(
          ["node", "--join", s1.ready, "--token", TOKEN, "--executors", "2", "--id", id],
          /node (\S+) joined/,
        ),
      ),
    );
    for (const c of started) {
      children.push(c);
      nodes.set(c.ready, c);
    }
    spread = await Stratus.connect(s1.ready, { token: TOKEN });
    local = await Stratus.connect(s2.ready, { token: TOKEN });
    await until(async () => (await spread.status()).nodes.length === 3, 10_000, "3 nodes");
    await until(async () => (await local.status()).nodes.length === 3, 10_000, "3 nodes");
    await spread.register("where", async (ctx, x: number) => ({ x, at: ctx.id().split(".")[0] }));
    await spread.register("tail", async (ctx, r: { x: number; at: string }) => {
      await new Promise((res) => setTimeout(res, 5));
      return [r.x * 2, r.at, ctx.id().split(".")[0]];
    });
    await spread.registerDag("hop", { functions: ["where", "tail"], edges: [["where", "tail"]] });
  });

  after(async () => {
    await Promise.all([spread?.close(), local?.close()]);
    await Promise.all(children.map((c) => c.stop()));
    await own?.stop();
  });

  it("runs DAGs whose functions land on different nodes, through either scheduler", async () => {
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        spread.callDag<[number, string, string]>("hop", { where: [i] }),
      ),
    );
    runs.forEach(([v], i) => assert.equal(v, i * 2));
    assert.ok(
      runs.some(([, a, b]) => a !== b),
      "spread placement put both functions on one node every time",
    );
    assert.equal(new Set(runs.flatMap(([, a, b]) => [a, b])).size, 3, "not every node ran work");
    const viaOther = await local.callDag<[number, string, string]>("hop", { where: [21] });
    assert.equal(viaOther[0], 42);
  });

  it("keeps every node's cache fresh when another node writes", async () => {
    await spread.register("readk", async (ctx) => [
      ctx.id().split(".")[0],
      await ctx.get("shared"),
    ]);
    await spread.register("writek", async (ctx, v: number) => ctx.put("shared", v));
    for (let v = 1; v <= 4; v++) {
      await spread.call("writek", [v]);
      // Invalidations travel asynchronously (keyspace notifications): each node must converge.
      const seen = new Map<string, unknown>();
      await until(
        async () => {
          // Spread placement is round robin, so three calls in a row reach all three nodes.
          for (let k = 0; k < 3; k++) {
            const [node, got] = await spread.call<[string, unknown]>("readk", []);
            seen.set(node, got);
          }
          return seen.size === 3 && [...seen.values()].every((x) => x === v);
        },
        2_000,
        `every node to read ${v}`,
      );
    }
  });

  it("survives SIGKILL of a node mid-load: every call completes or fails with a clear error", async () => {
    const total = 300;
    let done = 0;
    let killedAt = 0;
    let removal: Promise<number> | undefined;
    const victim = [...nodes.values()][1] as Child;
    const outcomes = await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        const client = i % 2 === 0 ? spread : local;
        try {
          const [v] = await client.callDag<[number]>("hop", { where: [i] }, { timeoutMs: 20_000 });
          assert.equal(v, i * 2);
          return "ok";
        } catch (e) {
          assert.ok(isStratusError(e), `not a StratusError: ${String(e)}`);
          assert.ok(
            ["NODE_LOST", "TIMEOUT", "NO_RESOURCES"].includes(e.code),
            `${e.code}: ${e.message}`,
          );
          return e.code;
        } finally {
          if (++done === 40) {
            killedAt = performance.now();
            victim.proc.kill("SIGKILL");
            // Membership must drop the node within 3 s of its death, measured from the kill.
            removal = until(
              async () => (await local.status()).nodes.length === 2,
              3_000,
              "the killed node to leave membership",
            );
          }
        }
      }),
    );
    assert.ok(killedAt > 0);
    assert.equal(outcomes.length, total);
    const ok = outcomes.filter((o) => o === "ok").length;
    assert.ok(
      ok >= total * 0.9,
      `only ${ok}/${total} calls succeeded: ${JSON.stringify(outcomes)}`,
    );
    assert.ok(removal !== undefined);
    assert.ok((await removal) <= 3_000);
    const after = await spread.callDag<[number]>("hop", { where: [5] });
    assert.equal(after[0], 10);
  });
});

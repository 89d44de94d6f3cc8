/**
 * Nodes as separate hosts: each node runs in its own network namespace joined to the root
 * namespace by a veth pair, so it has its own address and its traffic crosses a real (virtual)
 * link. Redis and the scheduler run in the root namespace. Mid-load, one host's link is cut:
 * every call completes or fails with a clear error, and the host leaves membership within 3 s.
 * Needs root (to create namespaces); CI runs as root.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Stratus, isStratusError } from "../../src/index.js";
import { RedisServer, freePort } from "../../testing/redis.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const TOKEN = "netns-token";
const HOSTS = [
  { ns: "stx-a", veth: "stxa", root: "10.231.1.1", addr: "10.231.1.2" },
  { ns: "stx-b", veth: "stxb", root: "10.231.2.1", addr: "10.231.2.2" },
] as const;

const sh = (...cmd: string[]): string =>
  execFileSync(cmd[0] as string, cmd.slice(1), { encoding: "utf8" });
const quiet = (...cmd: string[]): void => {
  try {
    execFileSync(cmd[0] as string, cmd.slice(1), { stdio: "ignore" });
  } catch {
    // Cleanup of something that may not exist.
  }
};

function teardownNet(): void {
  for (const h of HOSTS) {
    quiet("ip", "link", "del", `${h.veth}0`);
    quiet("ip", "netns", "del", h.ns);
  }
}

function setupNet(): void {
  teardownNet();
  for (const h of HOSTS) {
    sh("ip", "netns", "add", h.ns);
    sh("ip", "link", "add", `${h.veth}0`, "type", "veth", "peer", "name", `${h.veth}1`);
    sh("ip", "link", "set", `${h.veth}1`, "netns", h.ns);
    sh("ip", "addr", "add", `${h.root}/24`, "dev", `${h.veth}0`);
    sh("ip", "link", "set", `${h.veth}0`, "up");
    const inNs = (...c: string[]): string => sh("ip", "netns", "exec", h.ns, ...c);
    inNs("ip", "addr", "add", `${h.addr}/24`, "dev", `${h.veth}1`);
    inNs("ip", "link", "set", `${h.veth}1`, "up");
    inNs("ip", "link", "set", "lo", "up");
    inNs("ip", "route", "add", "default", "via", h.root);
  }
}

describe("runtime: nodes on separate network hosts (ip netns), one host's link cut mid-load", () => {
  let redis: RedisServer;
  let forward = "0";
  const children: Child[] = [];
  const nodes: Child[] = [];
  let cloud: Stratus;

  before(async () => {
    assert.equal(
      process.getuid?.(),
      0,
      "this test creates network namespaces and must run as root",
    );
    forward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
    setupNet();
    // Node-to-node traffic between namespaces is routed through the root namespace.
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    redis = await RedisServer.start({ bind: ["127.0.0.1", ...HOSTS.map((h) => h.root)] });
    const store = `redis://${HOSTS[0].root}:${redis.port}?prefix=netns:`;
    const port = await freePort();
    const sched = await startStratus(
      [
        "scheduler",
        "--store",
        store,
        "--token",
        TOKEN,
        "--placement",
        "spread",
        "--host",
        "0.0.0.0",
        "--port",
        String(port),
        "--advertise",
        `stratus://${HOSTS[0].root}:${port}`,
      ],
      /scheduler \S+ at (\S+)\n/,
    );
    children.push(sched);
    for (const [i, h] of HOSTS.entries()) {
      const n = await startStratus(
        [
          "node",
          "--join",
          sched.ready,
          "--token",
          TOKEN,
          "--executors",
          "2",
          "--id",
          `host${i}`,
          "--host",
          h.addr,
        ],
        /node (\S+) joined/,
        {},
        ["ip", "netns", "exec", h.ns],
      );
      children.push(n);
      nodes.push(n);
    }
    cloud = await Stratus.connect(`stratus://127.0.0.1:${port}`, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
    await cloud.register("where", async (ctx, x: number) => ({ x, at: ctx.id().split(".")[0] }));
    await cloud.register("tail", async (ctx, r: { x: number; at: string }) => {
      await new Promise((res) => setTimeout(res, 5));
      return [r.x * 2, r.at, ctx.id().split(".")[0]];
    });
    await cloud.registerDag("hop", { functions: ["where", "tail"], edges: [["where", "tail"]] });
  });

  after(async () => {
    await cloud?.close();
    for (const n of nodes) n.proc.kill("SIGKILL");
    await Promise.all(children.map((c) => c.stop()));
    await redis?.stop();
    teardownNet();
    writeFileSync("/proc/sys/net/ipv4/ip_forward", forward);
  });

  it("runs DAGs across hosts", async () => {
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cloud.callDag<[number, string, string]>("hop", { where: [i] }),
      ),
    );
    runs.forEach(([v], i) => assert.equal(v, i * 2));
    assert.ok(
      runs.some(([, a, b]) => a !== b),
      "no DAG crossed hosts",
    );
  });

  it("cuts host0's link mid-load: every call completes or fails clearly; host0 leaves within 3 s", async () => {
    const total = 200;
    let done = 0;
    let removal: Promise<number> | undefined;
    const outcomes = await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        try {
          const [v] = await cloud.callDag<[number]>("hop", { where: [i] }, { timeoutMs: 20_000 });
          assert.equal(v, i * 2);
          return "ok";
        } catch (e) {
          assert.ok(isStratusError(e), `not a StratusError: ${String(e)}`);
          assert.ok(["NODE_LOST", "TIMEOUT"].includes(e.code), `${e.code}: ${e.message}`);
          return e.code;
        } finally {
          if (++done === 40) {
            sh("ip", "link", "set", `${HOSTS[0].veth}0`, "down");
            removal = until(
              async () => !(await cloud.status()).nodes.some((n) => n.id === "host0"),
              3_000,
              "host0 to leave membership after its link was cut",
            );
          }
        }
      }),
    );
    assert.ok(removal !== undefined);
    assert.ok((await removal) <= 3_000);
    const ok = outcomes.filter((o) => o === "ok").length;
    assert.ok(
      ok >= total * 0.9,
      `only ${ok}/${total} calls succeeded: ${JSON.stringify(outcomes)}`,
    );
    const [v] = await cloud.callDag<[number]>("hop", { where: [4] });
    assert.equal(v, 8);
  });
});

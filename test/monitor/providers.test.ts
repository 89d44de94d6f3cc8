/**
 * Node providers. `local`: real `stratus node` processes started and stopped by the provider,
 * seen joining and leaving membership; and the monitor using it, adding a node when the only
 * node is at maxExecutors and busy, removing it once the cluster is idle. `kubernetes`: no
 * Kubernetes cluster runs here, so a fake API server (node:http, in this test) speaks the two
 * endpoints the provider uses, the Deployment `scale` subresource's GET and PUT.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus, isStratusError } from "../../src/index.js";
import { KubernetesNodeProvider, LocalNodeProvider } from "../../src/monitor/index.js";
import type { MonitorDecision } from "../../src/monitor/index.js";
import { until } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const TOKEN = "provider-token";
const CLI = [process.execPath, "--import", "tsx", "src/cli/main.ts"];

describe("monitor: the local node provider", () => {
  let own: RedisServer | undefined;
  let store = "";

  before(async () => {
    let redis = process.env.STRATUS_TEST_REDIS;
    if (redis === undefined) {
      own = await RedisServer.start();
      redis = own.url;
    }
    store = `${redis}?prefix=lp-${randomUUID().slice(0, 8)}:`;
  });

  after(async () => {
    await own?.stop();
  });

  it("spawns a real node process that joins, and removes it", async () => {
    const sched = await StratusProcess.start({ token: TOKEN, store, executors: 0 });
    const cloud = await Stratus.connect(sched.url, { token: TOKEN });
    const provider = new LocalNodeProvider({
      command: CLI,
      join: sched.url,
      args: ["--executors", "1"],
      env: { ...process.env, STRATUS_TOKEN: TOKEN },
    });
    try {
      assert.equal((await cloud.status()).nodes.length, 0);
      await provider.scale(1);
      assert.equal(await provider.current(), 1);
      const [id] = provider.ids;
      await until(
        async () => (await cloud.status()).nodes.some((n) => n.id === id),
        10_000,
        "the node to join",
      );
      await cloud.register("one", () => 1);
      assert.equal(await cloud.call("one", []), 1); // it runs calls
      await provider.scale(0);
      assert.equal(await provider.current(), 0);
      await until(async () => (await cloud.status()).nodes.length === 0, 10_000, "it to leave");
    } finally {
      await provider.close();
      await cloud.close();
      await sched.close();
    }
  });

  it("counts the nodes another scheduler's provider started (from membership)", async () => {
    // Two schedulers, as when the autoscaler's lease moves from one to the other.
    const [s1, s2] = await Promise.all(
      [1, 2].map(() => StratusProcess.start({ token: TOKEN, store, executors: 0 })),
    );
    const options = {
      command: CLI,
      args: ["--executors", "1"],
      env: { ...process.env, STRATUS_TOKEN: TOKEN },
    };
    const first = new LocalNodeProvider({ ...options, join: s1!.url, members: () => s1!.nodeIds });
    const next = new LocalNodeProvider({ ...options, join: s2!.url, members: () => s2!.nodeIds });
    // Control: a provider that counts only its own nodes, as every provider did before.
    const blind = new LocalNodeProvider({ ...options, join: s2!.url });
    try {
      await first.scale(1);
      const [id] = first.ids;
      assert.match(id ?? "", /^auto-/);
      await until(async () => s2!.nodeIds.includes(id!), 10_000, "s2 to see the node");
      assert.equal(await blind.current(), 0, "control: the node is not its own");
      assert.equal(await next.current(), 1);
      await next.scale(1); // minNodes 1: already met
      assert.deepEqual(next.ids, [], "it started no second node");
      await next.scale(2);
      assert.equal(next.ids.length, 1);
      assert.equal(await next.current(), 2);
      // Scaling down stops its own node; the other's is left to its provider.
      await next.scale(1);
      assert.deepEqual(next.ids, []);
      assert.deepEqual(first.ids, [id]);
    } finally {
      await Promise.all([first.close(), next.close(), blind.close()]);
      await Promise.all([s1!.close(), s2!.close()]);
    }
  });

  it("the monitor adds a node when the only one is at maxExecutors, and removes it when idle", async () => {
    let url = "";
    const provider = new LocalNodeProvider({
      command: CLI,
      join: () => url,
      args: ["--executors", "1"],
      env: { ...process.env, STRATUS_TOKEN: TOKEN },
    });
    const sched = await StratusProcess.start({
      token: TOKEN,
      store,
      executors: 1,
      stats: { intervalMs: 100 },
      monitor: {
        intervalMs: 200,
        minExecutors: 1,
        maxExecutors: 1,
        idleGraceMs: 0,
        nodes: {
          provider,
          maxNodes: 1,
          saturatedForMs: 300,
          cooldownMs: 0,
          idleGraceMs: 1000,
        },
      },
    });
    url = sched.url;
    const cloud = await Stratus.connect(sched.url, { token: TOKEN });
    const decisions: MonitorDecision[] = [];
    sched.monitor!.onDecision((d) => decisions.push(d));
    let load = true;
    let loops: Promise<void>[] = [];
    try {
      // Nodes the tests before this one started, on the same store, are gone once their
      // heartbeats expire: until then they would count as the second node.
      await until(async () => (await cloud.status()).nodes.length === 1, 30_000, "one node");
      // One call per executor: 6 callers saturate the node's one executor.
      await cloud.register(
        "nap",
        async () => {
          await new Promise((r) => setTimeout(r, 50));
          return 1;
        },
        { concurrency: 1 },
      );
      loops = Array.from({ length: 6 }, async () => {
        while (load) await cloud.call("nap", []);
      });
      await until(async () => (await cloud.status()).nodes.length === 2, 30_000, "a second node");
      assert.deepEqual(
        decisions.filter((d) => d.kind === "nodes").map((d) => [d.from, d.to]),
        [[0, 1]],
      );
      load = false;
      await Promise.all(loops);
      await until(
        async () => (await cloud.status()).nodes.length === 1,
        30_000,
        "back to one node",
      );
      assert.deepEqual(
        decisions.filter((d) => d.kind === "nodes").map((d) => [d.from, d.to]),
        [
          [0, 1],
          [1, 0],
        ],
      );
      assert.equal(await provider.current(), 0);
    } finally {
      load = false;
      await Promise.all(loops);
      await cloud.close();
      await sched.close(); // closes the monitor, and so the provider
    }
  });
});

describe("monitor: the kubernetes node provider, against a fake API server", () => {
  it("reads and sets a Deployment's replicas through its scale subresource", async () => {
    const deployments = new Map([["stratus-node", 2]]);
    const seen: string[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
        const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)\/scale$/.exec(
          req.url ?? "",
        );
        const name = m?.[2] ?? "";
        res.setHeader("content-type", "application/json");
        if (req.headers.authorization !== "Bearer k8s-token") {
          res.writeHead(401).end(JSON.stringify({ kind: "Status", code: 401 }));
          return;
        }
        if (m === null || m[1] !== "stratus" || !deployments.has(name)) {
          res.writeHead(404).end(JSON.stringify({ kind: "Status", code: 404, reason: "NotFound" }));
          return;
        }
        if (req.method === "PUT") {
          const replicas = (JSON.parse(body) as { spec: { replicas: number } }).spec.replicas;
          deployments.set(name, replicas);
        }
        const replicas = deployments.get(name)!;
        res.end(
          JSON.stringify({
            kind: "Scale",
            apiVersion: "autoscaling/v1",
            metadata: { name, namespace: "stratus" },
            spec: { replicas },
            status: { replicas },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const server_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const p = new KubernetesNodeProvider({
        deployment: "stratus-node",
        namespace: "stratus",
        // The fake server speaks plain HTTP, which the client allows only with TLS checks off.
        cluster: { server: server_, token: "k8s-token", skipTlsVerify: true },
      });
      assert.equal(await p.current(), 2);
      await p.scale(5);
      assert.equal(deployments.get("stratus-node"), 5);
      assert.equal(await p.current(), 5);
      assert.deepEqual(seen.slice(0, 2), [
        "GET /apis/apps/v1/namespaces/stratus/deployments/stratus-node/scale Bearer k8s-token",
        "PUT /apis/apps/v1/namespaces/stratus/deployments/stratus-node/scale Bearer k8s-token",
      ]);
      // A missing Deployment is a typed, retryable error naming it.
      const missing = new KubernetesNodeProvider({
        deployment: "nope",
        namespace: "stratus",
        // The fake server speaks plain HTTP, which the client allows only with TLS checks off.
        cluster: { server: server_, token: "k8s-token", skipTlsVerify: true },
      });
      await assert.rejects(missing.current(), (e: unknown) => {
        assert.ok(isStratusError(e) && e.code === "NO_RESOURCES" && e.retryable);
        assert.match(e.message, /stratus\/nope/);
        return true;
      });
      assert.throws(() => new KubernetesNodeProvider({ deployment: "Bad Name!" }), /deployment/);
    } finally {
      server.close();
    }
  });
});

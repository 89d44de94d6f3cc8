/**
 * The 3-node cluster the consistency tests run the Retwis workload on: a scheduler and three node
 * processes over Redis, the timeline's two functions pinned to two nodes, and the second of those
 * with a lagging cache (`--lag-invalidations-ms`), so weak levels' anomalies actually happen.
 */
import { randomUUID } from "node:crypto";
import { MemoryStore, Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { registerRetwis } from "./index.js";
import { RedisServer } from "../redis.js";
import { startStratus, until } from "../processes.js";
import type { Child } from "../processes.js";

export const TOKEN = "consistency-token";

export interface RetwisCluster {
  cloud: Stratus;
  clients: Stratus[];
  /** Node processes by id: fresh1, fresh2, lag. */
  nodes: Map<string, Child>;
  scheduler: Child;
  stop(): Promise<void>;
}

const PINS: Record<string, string> = {
  rtw_tl1: "fresh1",
  rtw_tl2: "lag",
  rtw_post: "fresh1",
  rtw_reply: "fresh2",
  rtw_follow: "fresh2",
};

/**
 * The same cluster inside this process, over the memory store: four StratusProcess instances
 * (a scheduler and three nodes, one executor each) talking over loopback TCP. For the runs
 * counted in tens of thousands, which OS processes over Redis could not make within the suite's
 * time budget on a 2-core machine.
 */
export async function startInProcessCluster(
  o: { lagMs?: number } = {},
): Promise<{ cloud: Stratus; procs: StratusProcess[]; stop(): Promise<void> }> {
  const store = await MemoryStore.open();
  const token = TOKEN;
  const sched = await StratusProcess.start({ token, store, executors: 0, id: "sched", pin: PINS });
  const procs = [sched];
  for (const id of ["fresh1", "fresh2", "lag"]) {
    procs.push(
      await StratusProcess.start({
        token,
        store,
        scheduler: false,
        executors: 1,
        id,
        ...(id === "lag" ? { lagInvalidationsMs: o.lagMs ?? 150 } : {}),
      }),
    );
  }
  const cloud = await Stratus.connect(sched.url, { token });
  await until(async () => (await cloud.status()).nodes.length === 3, 15_000, "3 nodes");
  await registerRetwis(cloud);
  return {
    cloud,
    procs,
    stop: async () => {
      await cloud.close();
      for (const p of procs.reverse()) await p.close();
      await store.close();
    },
  };
}

/** Starts the cluster and registers the workload. */
export async function startRetwisCluster(
  o: { lagMs?: number; clients?: number; extraNodeArgs?: string[] } = {},
): Promise<RetwisCluster> {
  let own: RedisServer | undefined;
  let redis = process.env.STRATUS_TEST_REDIS;
  if (redis === undefined) {
    own = await RedisServer.start();
    redis = own.url;
  }
  const store = `${redis}?prefix=cons-${randomUUID().slice(0, 8)}:`;
  const pins = Object.entries(PINS).flatMap(([fn, node]) => ["--pin", `${fn}=${node}`]);
  const scheduler = await startStratus(
    ["scheduler", "--store", store, "--token", TOKEN, ...pins],
    /scheduler \S+ at (\S+)\n/,
  );
  const nodes = new Map<string, Child>();
  try {
    const started = await Promise.all(
      (
        [
          ["fresh1", []],
          ["fresh2", []],
          ["lag", ["--lag-invalidations-ms", String(o.lagMs ?? 150)]],
        ] as const
      ).map(([id, extra]) =>
        startStratus(
          [
            "node",
            "--join",
            scheduler.ready,
            "--token",
            TOKEN,
            "--executors",
            "2",
            "--id",
            id,
            ...extra,
            ...(o.extraNodeArgs ?? []),
          ],
          /node (\S+) joined/,
        ).then((c) => nodes.set(id, c)),
      ),
    );
    void started;
  } catch (e) {
    await scheduler.stop();
    for (const c of nodes.values()) await c.stop();
    throw e;
  }
  const clients: Stratus[] = [];
  for (let i = 0; i < (o.clients ?? 2); i++) {
    clients.push(await Stratus.connect(scheduler.ready, { token: TOKEN }));
  }
  const cloud = clients[0] as Stratus;
  await until(async () => (await cloud.status()).nodes.length === 3, 15_000, "3 nodes");
  await registerRetwis(cloud);
  return {
    cloud,
    clients,
    nodes,
    scheduler,
    stop: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all([scheduler, ...nodes.values()].map((c) => c.stop()));
      await own?.stop();
    },
  };
}

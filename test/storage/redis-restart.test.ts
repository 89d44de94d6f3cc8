/**
 * Fault injection on the Redis backends: the server is killed with SIGKILL while 16 writers are
 * busy, then restarted on the same port and data (AOF with fsync always).
 */
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { describe, it } from "node:test";
import { isStratusError } from "../../src/errors/index.js";
import { MaxLattice } from "../../src/lattice/index.js";
import { RedisStore } from "../../src/storage/index.js";
import type { ChangeEvent, Store } from "../../src/storage/index.js";
import { RedisCluster, RedisServer } from "../../testing/redis.js";

const DEADLINE_MS = 1000;
// The deadline sweeper may fire up to one period (DEADLINE/5) late; the rest is event-loop slack
// on a loaded 2-core machine.
const DEADLINE_SLACK_MS = 1500;

interface Progress {
  acked: Set<number>;
  errors: { code: string; ms: number }[];
}

/** 16 writers merging distinct keys until stopped; emits "tick" after every settled write. */
function startWriters(store: Store, p: Progress, bus: EventEmitter): { stop: () => Promise<void> } {
  let seq = 0;
  let stopped = false;
  const lanes = Array.from({ length: 16 }, async () => {
    while (!stopped) {
      const i = seq++;
      const t0 = performance.now();
      try {
        await store.put(`w/${i}`, new MaxLattice(i));
        p.acked.add(i);
      } catch (e) {
        p.errors.push({ code: isStratusError(e) ? e.code : String(e), ms: performance.now() - t0 });
      }
      bus.emit("tick");
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(lanes);
    },
  };
}

async function until(bus: EventEmitter, pred: () => boolean): Promise<void> {
  while (!pred()) await once(bus, "tick");
}

async function restartScenario(
  store: Store,
  kill: () => Promise<void>,
  restart: () => Promise<void>,
): Promise<void> {
  const p: Progress = { acked: new Set(), errors: [] };
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  let onReset!: (e: ChangeEvent) => void;
  const resetSeen = new Promise<ChangeEvent>((r) => (onReset = r));
  const sub = await store.subscribe("w/", (e) => {
    if (e.kind === "reset") onReset(e);
  });
  const writers = startWriters(store, p, bus);

  await until(bus, () => p.acked.size >= 2000);
  await kill();
  await until(bus, () => p.errors.length >= 16);
  await restart();
  const ackedBeforeRecovery = p.acked.size;
  await until(bus, () => p.acked.size >= ackedBeforeRecovery + 2000);
  await writers.stop();

  assert.ok(p.errors.length >= 16, "writers saw the outage");
  for (const e of p.errors) {
    assert.equal(e.code, "STORAGE_UNAVAILABLE");
    assert.ok(
      e.ms <= DEADLINE_MS + DEADLINE_SLACK_MS,
      `an operation failed only after ${e.ms.toFixed(0)} ms`,
    );
  }
  const keys = [...p.acked];
  const values = await store.getMany(keys.map((i) => `w/${i}`));
  const lost = keys.filter((i, j) => (values[j] as MaxLattice | undefined)?.value !== i);
  assert.deepEqual(lost, [], "every acknowledged write survived the restart");
  // Subscribers are told that notifications may have been missed while the server was away.
  assert.deepEqual(await resetSeen, { kind: "reset" });
  await sub.close();
}

describe("storage/redis restart during writes", () => {
  it("standalone: errors within the deadline, reconnects, no acknowledged write lost", async () => {
    const server = await RedisServer.start({ durable: true });
    const store = await RedisStore.connect({ url: server.url, opTimeoutMs: DEADLINE_MS });
    try {
      await restartScenario(
        store,
        () => server.kill("SIGKILL"),
        () => server.start(),
      );
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it("cluster: one master restarts; errors within the deadline, no acknowledged write lost", async () => {
    const cluster = await RedisCluster.start(3, true);
    const store = await RedisStore.connect({ cluster: cluster.seeds, opTimeoutMs: DEADLINE_MS });
    const victim = cluster.nodes[1] as RedisServer;
    try {
      await restartScenario(
        store,
        () => victim.kill("SIGKILL"),
        () => victim.start(),
      );
    } finally {
      await store.close();
      await cluster.stop();
    }
  });
});

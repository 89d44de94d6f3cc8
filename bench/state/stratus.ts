/**
 * The Stratus side of the `state` benchmark: a Redis with `appendfsync everysec` (durable, like
 * the peers), `stratus up` on it and `stratus up` on the default memory store, each a child
 * process, and the operations the benchmark repeats against them.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Stratus } from "../../src/index.js";
import type { Context } from "../../src/index.js";
import { stratusUp } from "../../testing/processes.js";
import { freePort } from "../../testing/redis.js";
import { stopChild } from "../peers/restate.js";

/** The number stored under `key` (a counter's value, or the LWW number of the RMW side). */
export async function readCount(cloud: Stratus, key: string): Promise<number> {
  const v = await cloud.get(key);
  if (typeof v !== "number") throw new Error(`get(${key}) answered ${String(v)}, not a number`);
  return v;
}

/** One increment as a function call: the merge runs on the executor, one step on the server. */
async function incr(ctx: Context, key: string): Promise<void> {
  await ctx.merge(key, ctx.lattices.counter(1));
}

/** The same increment as read-modify-write of an LWW value: concurrent calls lose updates. */
async function rmw(ctx: Context, key: string): Promise<void> {
  const v = (await ctx.get<number>(key)) ?? 0;
  await ctx.put(key, v + 1);
}

export interface StratusCluster {
  cloud: Stratus;
  stop(): Promise<void>;
}

/** Starts `redis-server --appendonly yes --appendfsync everysec` on a free loopback port. */
async function startRedis(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const proc = spawn(
    "redis-server",
    [
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
      ...["--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no"],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${out}`)));
    proc.once("error", reject);
  });
  proc.stderr.resume();
  return { url: `redis://127.0.0.1:${port}`, proc };
}

/**
 * Executors of each `stratus up`, kept as before so runs compare. An increment spends most of
 * its time waiting for the store's answer; each executor runs up to the function's concurrency
 * (the default, 8) of them at once.
 */
const EXECUTORS = "16";

/**
 * `stratus up` on the given store (undefined: the default memory store) with the benchmark's
 * functions registered, and a client connected to it.
 */
async function startCluster(store: string | undefined): Promise<StratusCluster> {
  const flags = ["--executors", EXECUTORS];
  const up = await stratusUp(store === undefined ? flags : [...flags, "--store", store]);
  let cloud: Stratus;
  try {
    cloud = await Stratus.connect(up.url, { token: up.token });
    await cloud.register("state_incr", incr);
    await cloud.register("state_rmw", rmw);
  } catch (err) {
    await up.stop();
    throw err;
  }
  return {
    cloud,
    stop: async () => {
      await cloud.close();
      await up.stop();
    },
  };
}

export interface StratusSetup {
  /** On Redis with appendfsync everysec. */
  redis: StratusCluster;
  /** On the default memory store. */
  memory: StratusCluster;
  stop(): Promise<void>;
}

/**
 * Redis, and a Stratus cluster on it and (unless `memory` is false) one on memory; all stopped
 * again on failure. Without the memory cluster, `memory` is the Redis one.
 */
export async function startStratus(
  tmp: string,
  o: { memory?: boolean } = {},
): Promise<StratusSetup> {
  const redis = await startRedis(join(tmp, "redis"));
  const clusters = await Promise.allSettled(
    o.memory === false
      ? [startCluster(redis.url)]
      : [startCluster(redis.url), startCluster(undefined)],
  );
  const stopAll = async (): Promise<void> => {
    await Promise.all(
      clusters.map((c) => (c.status === "fulfilled" ? c.value.stop() : Promise.resolve())),
    );
    await stopChild(redis.proc);
  };
  const [onRedis, onMemory = onRedis] = clusters;
  if (onRedis?.status !== "fulfilled" || onMemory?.status !== "fulfilled") {
    await stopAll();
    const failed = clusters.find((c) => c.status === "rejected");
    throw failed?.status === "rejected" ? failed.reason : new Error("stratus up failed");
  }
  return { redis: onRedis.value, memory: onMemory.value, stop: stopAll };
}

/**
 * The three storage backends every conformance test runs against. Redis servers come from the
 * test runner (`scripts/test.ts` exports their addresses) or, when a file runs alone, are started
 * here and stopped when the file ends. Each opened store gets its own key prefix, so tests never
 * see each other's keys.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore, RedisStore } from "../src/storage/index.js";
import type { Store, StoreLimits } from "../src/storage/index.js";
import { RedisCluster, RedisServer } from "./redis.js";

export type BackendName = "memory" | "memory-log" | "redis" | "redis-cluster";
export const BACKENDS: readonly BackendName[] = ["memory", "redis", "redis-cluster"];

export interface OpenOptions {
  limits?: StoreLimits;
  opTimeoutMs?: number;
  /** Reuse this key prefix (a second client of the same data). */
  keyPrefix?: string;
}

/** Opens stores of one backend; every store opened shares one prefix unless told otherwise. */
export class BackendFixture {
  readonly prefix = `t:${randomUUID().slice(0, 8)}:`;
  private readonly opened: Store[] = [];
  private memory: MemoryStore | undefined;
  private server: RedisServer | undefined;
  private cluster: RedisCluster | undefined;
  private logDir: string | undefined;

  constructor(readonly name: BackendName) {}

  /** A new client of the backend. Memory clients all share one in-process store. */
  async open(o: OpenOptions = {}): Promise<Store> {
    let s: Store;
    if (this.name === "memory" || this.name === "memory-log") {
      const log: { logPath?: string } = {};
      if (this.name === "memory-log") {
        this.logDir ??= mkdtempSync(join(tmpdir(), "stratus-fixture-"));
        log.logPath = join(this.logDir, `${this.opened.length}.log`);
      }
      if (o.limits !== undefined) s = await MemoryStore.open({ limits: o.limits, ...log });
      else s = this.memory ??= await MemoryStore.open(log);
    } else {
      const common = {
        keyPrefix: o.keyPrefix ?? this.prefix,
        ...(o.limits === undefined ? {} : { limits: o.limits }),
        ...(o.opTimeoutMs === undefined ? {} : { opTimeoutMs: o.opTimeoutMs }),
      };
      s =
        this.name === "redis"
          ? await RedisStore.connect({ url: await this.redisUrl(), ...common })
          : await RedisStore.connect({ cluster: await this.clusterSeeds(), ...common });
    }
    this.opened.push(s);
    return s;
  }

  async teardown(): Promise<void> {
    await Promise.all(this.opened.map((s) => s.close().catch(() => undefined)));
    await this.server?.stop();
    await this.cluster?.stop();
    if (this.logDir !== undefined) rmSync(this.logDir, { recursive: true, force: true });
  }

  /** Address of the standalone Redis server behind this fixture. */
  async redisUrl(): Promise<string> {
    const env = process.env["STRATUS_TEST_REDIS"];
    if (env !== undefined && env !== "") return env;
    this.server ??= await RedisServer.start();
    return this.server.url;
  }

  /** Seed nodes of the Redis Cluster behind this fixture. */
  async clusterSeeds(): Promise<{ host: string; port: number }[]> {
    const env = process.env["STRATUS_TEST_REDIS_CLUSTER"];
    if (env !== undefined && env !== "") {
      return env.split(",").map((hp) => {
        const [host = "127.0.0.1", port = "0"] = hp.split(":");
        return { host, port: Number(port) };
      });
    }
    this.cluster ??= await RedisCluster.start();
    return this.cluster.seeds;
  }
}

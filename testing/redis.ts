/**
 * Real Redis servers for tests: standalone or a 3-master cluster, on free loopback ports, each in
 * its own temporary directory. Started from Debian's `redis-server`; nothing is mocked.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { Redis } from "ioredis";

/** A free TCP port on loopback (and, for cluster nodes, its bus port +10000 too). */
export async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (!withBus) return port;
    if (port + 10000 > 65535) continue;
    try {
      await listenOnce(port + 10000);
      return port;
    } catch {
      /* bus port taken, try another */
    }
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

export interface RedisServerOptions {
  /** Durable: AOF with fsync on every write, so a SIGKILL loses no acknowledged write. */
  durable?: boolean;
  cluster?: boolean;
  port?: number;
  dir?: string;
  /** Addresses to listen on. @default ["127.0.0.1"] */
  bind?: string[];
  /** More redis-server arguments (later ones win: `--port 0 --tls-port N` serves TLS only). */
  args?: string[];
}

/** One redis-server process that can be killed and started again on the same port and data. */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  private proc: ChildProcess | undefined;
  private readonly ownsDir: boolean;

  private constructor(
    private readonly o: RedisServerOptions,
    port: number,
    dir: string,
    ownsDir: boolean,
  ) {
    this.port = port;
    this.dir = dir;
    this.ownsDir = ownsDir;
  }

  static async start(o: RedisServerOptions = {}): Promise<RedisServer> {
    const port = o.port ?? (await freePort(o.cluster === true));
    const dir = o.dir ?? mkdtempSync(join(tmpdir(), "stratus-redis-"));
    const s = new RedisServer(o, port, dir, o.dir === undefined);
    await s.start();
    return s;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = [
      "--port",
      String(this.port),
      "--bind",
      ...(this.o.bind ?? ["127.0.0.1"]),
      "--dir",
      this.dir,
      "--save",
      "",
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
      "--loglevel",
      "notice",
      // DEBUG SLEEP simulates a stalled server.
      "--enable-debug-command",
      "local",
    ];
    args.push(
      ...(this.o.durable === true
        ? ["--appendonly", "yes", "--appendfsync", "always"]
        : ["--appendonly", "no"]),
    );
    args.push(...(this.o.args ?? []));
    if (this.o.cluster === true) {
      args.push(
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "5000",
      );
    }
    const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        log += d.toString();
        if (log.includes("Ready to accept connections")) {
          proc.stdout?.off("data", onData);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${log}`)));
      proc.once("error", reject);
    });
    proc.stdout?.resume();
    proc.stderr?.resume();
  }

  /** Stops the process with a signal (SIGKILL simulates a crash) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, "exit");
    p.kill(signal);
    await exited;
    this.proc = undefined;
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing is answered. */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  /** Thaws a {@link pause}d server. */
  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill("SIGTERM");
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of `masters` nodes, no replicas, every slot assigned and `cluster_state:ok`. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3, durable = false): Promise<RedisCluster> {
    const nodes = await Promise.all(
      Array.from({ length: masters }, () => RedisServer.start({ cluster: true, durable })),
    );
    const create = spawnSync(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      { encoding: "utf8" },
    );
    if (create.status !== 0) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    }
    const c = new RedisCluster(nodes);
    await c.waitUntilOk();
    return c;
  }

  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: "127.0.0.1", port: n.port }));
  }

  get address(): string {
    return "redis-cluster://" + this.nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
  }

  /** Polls CLUSTER INFO on every node (there is no event for convergence) until all say ok. */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    const clients = this.nodes.map((n) => new Redis(n.port, "127.0.0.1", { lazyConnect: false }));
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const infos = await Promise.all(clients.map((c) => c.cluster("INFO")));
        if (infos.every((i) => i.includes("cluster_state:ok"))) return;
        if (Date.now() > deadline) throw new Error("cluster did not reach cluster_state:ok");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      clients.forEach((c) => c.disconnect());
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/** True when `redis-server` and `redis-cli` are on the PATH. */
export function redisInstalled(): boolean {
  return ["redis-server", "redis-cli"].every(
    (b) => spawnSync(b, ["--version"], { stdio: "ignore" }).status === 0,
  );
}

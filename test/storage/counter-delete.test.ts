/**
 * A counter deleted by one process stays deleted when another process, which wrote it before,
 * writes it again: two real processes, each its own store client, over one Redis server (and a
 * Redis Cluster).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcessByStdio } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { after, describe, it } from "node:test";
import { BackendFixture } from "../../testing/backends.js";

/** A counter-client child process; `send` writes one command and resolves with its answer. */
class Client {
  private readonly answers: string[] = [];
  private waiting: ((line: string) => void) | undefined;

  private constructor(private readonly proc: ChildProcessByStdio<Writable, Readable, null>) {
    createInterface({ input: proc.stdout }).on("line", (line) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (w !== undefined) w(line);
      else this.answers.push(line);
    });
  }

  static async start(address: string): Promise<Client> {
    const proc = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "fixtures", "counter-client.ts"), address],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const c = new Client(proc);
    const exited = once(proc, "exit").then(([code]) => {
      throw new Error(`counter client exited (${String(code)}) before it was ready`);
    });
    exited.catch(() => undefined);
    assert.equal(await Promise.race([c.next(), exited]), "ready");
    return c;
  }

  private next(): Promise<string> {
    const queued = this.answers.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  send(command: string): Promise<string> {
    this.proc.stdin.write(command + "\n");
    return this.next();
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = once(this.proc, "exit");
    this.proc.stdin.end();
    await exited;
  }
}

for (const backend of ["redis", "redis-cluster"] as const) {
  describe(`storage: a counter deleted through another process stays deleted (${backend})`, () => {
    const fx = new BackendFixture(backend);
    const clients: Client[] = [];
    after(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      await fx.teardown();
    });

    it("5 increments, a delete from another process, 1 increment: the counter reads 1", async () => {
      const address =
        backend === "redis"
          ? `${await fx.redisUrl()}?prefix=${fx.prefix}`
          : `redis-cluster://${(await fx.clusterSeeds()).map((s) => `${s.host}:${s.port}`).join(",")}?prefix=${fx.prefix}`;
      const [a, b] = await Promise.all([Client.start(address), Client.start(address)]);
      clients.push(a, b);
      for (let i = 0; i < 5; i++) assert.equal(await a.send("inc visits 1"), "ok");
      assert.equal(await b.send("get visits"), "5");
      assert.equal(await b.send("del visits"), "ok");
      assert.equal(await a.send("get visits"), "absent");
      assert.equal(await a.send("inc visits 1"), "ok");
      assert.equal(await b.send("get visits"), "1");
      assert.equal(await a.send("get visits"), "1");
      // Both go on counting from there; a decrement too.
      assert.equal(await b.send("inc visits 3"), "ok");
      assert.equal(await a.send("inc visits -2"), "ok");
      assert.equal(await a.send("get visits"), "2");
      assert.equal(await b.send("get visits"), "2");
    });
  });
}

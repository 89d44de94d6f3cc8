/**
 * A run reads one snapshot whatever its shape (issue 17): a fork (src → rx, ry → sink), two
 * sources, and a nested call, spread over three nodes, while a write lands between the reads of
 * two branches. The control (lww, or causal without transactions) shows the mixed snapshot; at
 * read-atomic, repeatable-read and transactional-causal the run never returns one: the home node
 * or the fan-in finds the conflict and the run starts again (counted as a retry), and the result
 * is one snapshot.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import type { Consistency } from "../../src/protocol/index.js";
import { MemoryStore } from "../../src/storage/index.js";
import { until } from "../../testing/processes.js";

const TOKEN = "forks";

/** An HTTP gate: `/read` tells the test a first branch read; `/wait` holds until released. */
class Gate {
  private server!: Server;
  url = "";
  private firstRead!: Promise<void>;
  private onRead!: () => void;
  private released!: Promise<void>;
  private onRelease!: () => void;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url?.startsWith("/read") === true) {
        this.onRead();
        res.end("ok");
      } else {
        void this.released.then(() => res.end("ok"));
      }
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A new round: the next `/read` is awaited, `/wait` holds until `release`. */
  arm(): Promise<void> {
    this.released = new Promise((r) => (this.onRelease = r));
    return (this.firstRead = new Promise((r) => (this.onRead = r)));
  }

  release(): void {
    this.onRelease();
  }

  async close(): Promise<void> {
    this.onRelease?.();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe("one snapshot per run, whatever its shape (three nodes)", () => {
  let store: MemoryStore;
  const procs: StratusProcess[] = [];
  let cloud: Stratus;
  const gate = new Gate();

  before(async () => {
    await gate.start();
    store = await MemoryStore.open();
    const pin = {
      fk_src: "n1",
      fk_rx: "n2",
      fk_ry: "n3",
      fk_sink: "n1",
      fk_s1: "n2",
      fk_s2: "n3",
      fk_outer: "n2",
      fk_inner: "n3",
      fk_c1: "n2",
      fk_c2: "n3",
    };
    procs.push(await StratusProcess.start({ token: TOKEN, store, executors: 0, id: "s", pin }));
    for (const id of ["n1", "n2", "n3"]) {
      procs.push(
        await StratusProcess.start({ token: TOKEN, store, scheduler: false, executors: 2, id }),
      );
    }
    cloud = await Stratus.connect(procs[0]!.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 3, 15_000, "3 nodes");
    await cloud.register("fk_src", (_ctx, g: string) => g);
    // The first branch reads, then tells the gate; the second waits for the gate, then reads.
    await cloud.register("fk_rx", async (ctx, g: string) => {
      const v = await ctx.get(`${g.split("#")[1]}`);
      await fetch(`${g.split("#")[0]}/read`);
      return v;
    });
    await cloud.register("fk_ry", async (ctx, g: string) => {
      await fetch(`${g.split("#")[0]}/wait`);
      return ctx.get(`${g.split("#")[2]}`);
    });
    await cloud.register("fk_sink", (_ctx, a: unknown, b: unknown) => [a, b]);
    await cloud.registerDag("fk_fork", {
      functions: ["fk_src", "fk_rx", "fk_ry", "fk_sink"],
      edges: [
        ["fk_src", "fk_rx"],
        ["fk_src", "fk_ry"],
        ["fk_rx", "fk_sink"],
        ["fk_ry", "fk_sink"],
      ],
    });
    await cloud.register("fk_s1", async (ctx, g: string) => {
      const v = await ctx.get(`${g.split("#")[1]}`);
      await fetch(`${g.split("#")[0]}/read`);
      return v;
    });
    await cloud.register("fk_s2", async (ctx, g: string) => {
      await fetch(`${g.split("#")[0]}/wait`);
      return ctx.get(`${g.split("#")[2]}`);
    });
    await cloud.registerDag("fk_sources", {
      functions: ["fk_s1", "fk_s2", "fk_sink"],
      edges: [
        ["fk_s1", "fk_sink"],
        ["fk_s2", "fk_sink"],
      ],
    });
    await cloud.register("fk_inner", async (ctx, g: string) => {
      await fetch(`${g.split("#")[0]}/wait`);
      return ctx.get(`${g.split("#")[2]}`);
    });
    await cloud.register("fk_c1", async (ctx, g: string) => {
      const v = await ctx.get(`${g.split("#")[1]}`);
      await fetch(`${g.split("#")[0]}/read`);
      return [g, v];
    });
    await cloud.register("fk_c2", async (ctx, up: [string, unknown]) => {
      const g = up[0];
      await fetch(`${g.split("#")[0]}/wait`);
      return [up[1], await ctx.get(`${g.split("#")[1]}`)];
    });
    await cloud.registerDag("fk_chain", {
      functions: ["fk_c1", "fk_c2"],
      edges: [["fk_c1", "fk_c2"]],
    });
    await cloud.register("fk_outer", async (ctx, g: string) => {
      const v = await ctx.get(`${g.split("#")[1]}`);
      await fetch(`${g.split("#")[0]}/read`);
      return [v, await ctx.call("fk_inner", [g])];
    });
  });

  after(async () => {
    await cloud?.close();
    for (const p of procs.reverse()) await p.close();
    await store?.close();
    await gate.close();
  });

  /**
   * Runs `start` (a run whose first branch reads `a`, whose second reads `b`) while `write`
   * changes both between the two reads; returns what the run answered and the retries it took.
   */
  async function race(
    start: (g: string) => Promise<unknown>,
    a: string,
    b: string,
    write: () => Promise<void>,
  ): Promise<{ out: unknown; retries: number }> {
    const retries = procs[0]!.dispatcher.counts.retries;
    const read = gate.arm();
    const run = start(`${gate.url}#${a}#${b}`);
    await read;
    await write();
    gate.release();
    const out = await run;
    return { out, retries: procs[0]!.dispatcher.counts.retries - retries };
  }

  /** Writes x and y (one transaction), after plain initial values. */
  async function pair(ns: string): Promise<{ x: string; y: string; write: () => Promise<void> }> {
    const x = `${ns}/x`;
    const y = `${ns}/y`;
    await cloud.put(x, 1);
    await cloud.put(y, 1);
    const write = async () => {
      const tx = await cloud.txn.begin();
      tx.put(x, 2);
      tx.put(y, 2);
      await tx.commit();
    };
    return { x, y, write };
  }

  const shapes: [string, (g: string, level: Consistency) => Promise<unknown>][] = [
    ["a fork", (g, level) => cloud.callDag("fk_fork", { fk_src: [g] }, { consistency: level })],
    [
      "two sources",
      (g, level) => cloud.callDag("fk_sources", { fk_s1: [g], fk_s2: [g] }, { consistency: level }),
    ],
    ["a nested call", (g, level) => cloud.call("fk_outer", [g], { consistency: level })],
  ];

  for (const [shape, start] of shapes) {
    it(`${shape}: lww (control) mixes two snapshots; read-atomic reads one`, async () => {
      const c = await pair(`ctl-${shape}`);
      const control = await race((g) => start(g, "lww"), c.x, c.y, c.write);
      assert.deepEqual(control.out, [1, 2], "the control run reads x before and y after");
      const p = await pair(`ra-${shape}`);
      const ra = await race((g) => start(g, "read-atomic"), p.x, p.y, p.write);
      assert.deepEqual(ra.out, [2, 2]);
      assert.ok(ra.retries >= 1, "the conflict made the run start again");
    });
  }

  it("a chain over two nodes reads a key no transaction wrote once: a plain write between hops is not seen", async () => {
    const k = "chain/price";
    await cloud.put(k, 100);
    let price = 100;
    const write = async () => void (await cloud.put(k, (price += 899)));
    const control = await race(
      (g) => cloud.callDag("fk_chain", { fk_c1: [g] }, { consistency: "lww" }),
      k,
      k,
      write,
    );
    assert.deepEqual(control.out, [100, 999], "the control reads the price twice");
    const ra = await race(
      (g) => cloud.callDag("fk_chain", { fk_c1: [g] }, { consistency: "read-atomic" }),
      k,
      k,
      write,
    );
    assert.deepEqual(ra.out, [999, 999], "one version of the price in one run");
    assert.equal(ra.retries, 0, "a key read again is served by the run's home, no conflict");
  });

  it("repeatable-read: two branches that read one key at two versions start again", async () => {
    const k = "rr/k";
    await cloud.put(k, 1);
    let n = 1;
    const bump = async () => void (await cloud.put(k, ++n));
    const control = await race(
      (g) => cloud.callDag("fk_fork", { fk_src: [g] }, { consistency: "lww" }),
      k,
      k,
      bump,
    );
    assert.deepEqual(control.out, [1, 2]);
    const rr = await race(
      (g) => cloud.callDag("fk_fork", { fk_src: [g] }, { consistency: "repeatable-read" }),
      k,
      k,
      bump,
    );
    const [a, b] = rr.out as [number, number];
    assert.equal(a, b, "one version of the key in one run");
    assert.ok(rr.retries >= 1);
  });

  it("transactional-causal: branches whose reads are not one causal snapshot start again", async () => {
    await cloud.register("fk_cw", async (ctx, x: string, y: string, v: number) => {
      await ctx.put(x, v);
      await ctx.get(x); // y's version depends on this x
      await ctx.put(y, v);
    });
    const x = "tc/x";
    const y = "tc/y";
    await cloud.call("fk_cw", [x, y, 1], { consistency: "transactional-causal" });
    let n = 1;
    const write = async () =>
      void (await cloud.call("fk_cw", [x, y, ++n], { consistency: "transactional-causal" }));
    const control = await race(
      (g) => cloud.callDag("fk_fork", { fk_src: [g] }, { consistency: "causal" }),
      x,
      y,
      write,
    );
    assert.deepEqual(control.out, [1, 2], "causal alone lets the branches mix");
    const tc = await race(
      (g) => cloud.callDag("fk_fork", { fk_src: [g] }, { consistency: "transactional-causal" }),
      x,
      y,
      write,
    );
    const [a, b] = tc.out as [number, number];
    assert.equal(a, b);
    assert.ok(tc.retries >= 1);
  });
});

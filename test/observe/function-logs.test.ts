/**
 * Function logs: `console.*` in a function is kept with its function, invocation, run and node,
 * read back through the gateway from every live node (`cloud.logs`, `stratus logs`), bounded per
 * node, and written to the process's pino output as structured fields.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { StratusProcess } from "../../src/cluster/index.js";
import { Stratus } from "../../src/index.js";
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode, WorkerLogLine } from "../../src/node/executor/index.js";
import { FunctionLogs } from "../../src/node/index.js";
import { openStore } from "../../src/storage/index.js";
import type { Store } from "../../src/storage/index.js";
import { until } from "../../testing/processes.js";

const TOKEN = "logs-token";

/** Collects pino's JSON lines. */
class Lines extends Writable {
  readonly records: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const l of chunk.toString().split("\n")) {
      if (l.trim() !== "") this.records.push(JSON.parse(l) as Record<string, unknown>);
    }
    done();
  }
}

describe("function logs: a worker's console lines, with their invocation", () => {
  it("attributes a line to the invocation whose async context wrote it, not the one running", async () => {
    const lines: WorkerLogLine[] = [];
    const pool = new ExecutorPool({
      size: 1,
      host: async () => undefined,
      onLog: (l) => lines.push(l),
    });
    await pool.start();
    try {
      // `early` returns at once but leaves a timer that logs while `late` (same worker, posted
      // in the same batch, started right after) is the running invocation.
      const early: FunctionCode = {
        name: "early",
        version: "1",
        kind: "source",
        source:
          "(ctx) => { setTimeout(() => console.warn('left behind by', ctx.id()), 0); return 1; }",
      };
      const late: FunctionCode = {
        name: "late",
        version: "1",
        kind: "source",
        source:
          "async (ctx) => { console.log('late starts', { n: 1 }); await new Promise((r) => setTimeout(r, 50)); console.error('late ends'); return 2; }",
      };
      const out = await Promise.all([
        pool.invoke({ id: "inv-early", code: early, args: [], run: "r-early" }),
        pool.invoke({ id: "inv-late", code: late, args: [], run: "r-late" }),
      ]);
      assert.deepEqual(out.length, 2);
      const byMsg = new Map(lines.map((l) => [l.message, l]));
      const left = byMsg.get("left behind by inv-early");
      assert.ok(left !== undefined, JSON.stringify(lines));
      assert.equal(left.inv, "inv-early");
      assert.equal(left.fn, "early");
      assert.equal(left.level, "warn");
      // Written while `late` was running: it started before `early`'s timer fired.
      const order = lines.map((l) => l.message);
      assert.ok(order.indexOf("late starts { n: 1 }") < order.indexOf("left behind by inv-early"));
      const starts = byMsg.get("late starts { n: 1 }");
      assert.deepEqual(
        { inv: starts?.inv, fn: starts?.fn, level: starts?.level, run: starts?.run },
        { inv: "inv-late", fn: "late", level: "info", run: "r-late" },
      );
      assert.equal(byMsg.get("late ends")?.level, "error");
    } finally {
      await pool.close();
    }
  });

  it("keeps a node's lines bounded by count and by bytes, oldest dropped first", () => {
    const logs = new FunctionLogs("n1", { maxLines: 3, maxBytes: 1 << 20 });
    for (let i = 1; i <= 5; i++) logs.add({ level: "info", msg: `m${i}`, fn: "f", run: "r" });
    assert.deepEqual(
      logs.read({}).map((l) => l.msg),
      ["m3", "m4", "m5"],
    );
    assert.equal(logs.dropped, 2);
    assert.deepEqual(
      logs.read({ after: { n1: 4 } }).map((l) => l.seq),
      [5],
    );
    const small = new FunctionLogs("n2", { maxLines: 1000, maxBytes: 4096 });
    for (let i = 0; i < 100; i++) small.add({ level: "info", msg: "x".repeat(500) });
    assert.ok(small.size >= 1 && small.size <= 4, `kept ${small.size}`);
    assert.equal(small.read({}).at(-1)?.seq, 100);
  });
});

describe("function logs across two nodes", () => {
  let store: Store;
  let main: StratusProcess;
  let other: StratusProcess;
  let cloud: Stratus;
  const out = new Lines();

  before(async () => {
    store = await openStore("memory:");
    const log = pino({ level: "debug" }, out);
    const common = { token: TOKEN, store, heartbeatMs: 100, log };
    main = await StratusProcess.start({
      ...common,
      id: "logs-a",
      executors: 1,
      pin: { first: "logs-a", second: "logs-b" },
      fuse: false,
    });
    other = await StratusProcess.start({ ...common, id: "logs-b", scheduler: false, executors: 1 });
    cloud = await Stratus.connect(main.url, { token: TOKEN });
    await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
    await cloud.register("first", async (ctx, x: number) => {
      console.log("first got", x);
      return x + 1;
    });
    await cloud.register("second", async (ctx, x: number) => {
      console.info("second got", x, "in", await ctx.runId());
      return x * 2;
    });
    await cloud.registerDag("pair", {
      functions: ["first", "second"],
      edges: [["first", "second"]],
    });
  });

  after(async () => {
    await cloud?.close();
    await other?.close();
    await main?.close();
    await store?.close();
  });

  it("reads a run's lines from both nodes after it ended, and writes them to pino", async () => {
    assert.equal(await cloud.callDag("pair", { first: [20] }), 42);
    const second = (await cloud.logs({ fn: "second" })).lines;
    assert.equal(second.length, 1);
    const line = second[0]!;
    const run = line.run;
    assert.ok(run !== undefined);
    assert.equal(line.msg, `second got 21 in ${run}`);
    assert.equal(line.node, "logs-b");
    assert.ok(line.inv?.startsWith("logs-b."));
    const both = await cloud.logs({ run });
    assert.deepEqual(
      both.lines.map((l) => [l.node, l.fn, l.level, l.msg.split(" in ")[0]]),
      [
        ["logs-a", "first", "info", "first got 20"],
        ["logs-b", "second", "info", "second got 21"],
      ],
    );
    assert.deepEqual(both.unreachable, []);
    // The cursor: nothing after what was read.
    const after = Object.fromEntries(both.lines.map((l) => [l.node, l.seq]));
    assert.deepEqual((await cloud.logs({ run, after })).lines, []);
    const rec = out.records.find((r) => r.event === "function.log" && r.fn === "second");
    assert.ok(rec !== undefined);
    assert.deepEqual(
      { node: rec.node, run: rec.run, inv: rec.inv, msg: rec.msg, level: rec.level },
      { node: "logs-b", run, inv: line.inv, msg: line.msg, level: 30 },
    );
  });

  it("refuses a malformed query with INVALID_ARGUMENT", async () => {
    await assert.rejects(
      cloud.logs({ limit: -1 }),
      (e: { code?: string }) => e.code === "INVALID_ARGUMENT",
    );
  });

  it("prints the lines with `stratus logs fn --run id`", async () => {
    await cloud.call("first", [7]);
    const { lines } = await cloud.logs({ fn: "first" });
    const run = lines.at(-1)?.run;
    assert.ok(run !== undefined);
    const root = join(import.meta.dirname, "..", "..");
    const args = ["--import", "tsx", "src/cli/main.ts", "logs", "first", "--run", run];
    const child = spawn(process.execPath, [...args, "--url", main.url, "--token", TOKEN], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.equal(code, 0);
    const printed = stdout.trim().split("\n");
    assert.equal(printed.length, 1, stdout);
    assert.match(printed[0]!, new RegExp(`^\\S+Z logs-a first run=${run} INFO first got 7$`));
  });

  it("follows new lines with `stratus logs -f`", async () => {
    const root = join(import.meta.dirname, "..", "..");
    const args = ["--import", "tsx", "src/cli/main.ts", "logs", "second", "-f", "--json"];
    const child = spawn(
      process.execPath,
      [...args, "--interval", "50", "--url", main.url, "--token", TOKEN],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      const seen = (x: number): boolean => stdout.includes(`second got ${x} in`);
      // The lines already kept come first; then a call made while it follows.
      await until(async () => seen(21), 20_000, "the kept line");
      assert.equal(await cloud.callDag("pair", { first: [99] }), 200);
      await until(async () => seen(100), 10_000, "the new line");
      const lines = stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { seq: number });
      assert.equal(new Set(lines.map((l) => l.seq)).size, lines.length, "no line twice");
    } finally {
      child.kill("SIGTERM");
    }
  });
});

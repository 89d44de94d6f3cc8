/**
 * The measuring side of bench/state.ts, run inside a private network namespace (only loopback):
 * starts the Stratus clusters (bench/state/stratus.ts), restate-server with the virtual-object
 * counter (bench/peers/counter-endpoint.mjs) and miniflare with the Durable Object counter
 * (bench/peers/do-counter.mjs); then drives every side with 64 callers on one hot key, in
 * alternating blocks, and prints one line `STATE_RESULT <json metrics>`.
 *
 * usage: node --import tsx bench/state/netns.ts <restate scratch> <restate-server binary>
 *        <miniflare scratch> <temp dir> [--quick] [--peers-only] [--txn]
 *
 * `--txn` (for bench/txn.ts): the exactly-once side only, one read-atomic run per increment
 * against Restate's virtual-object counter (both exactly-once), without the Durable Object.
 */
import { mkdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { networkInterfaces } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { alternate } from "../lib/blocks.js";
import { blockRatio, putRatio } from "../lib/measure.js";
import type { BlockRatio } from "../lib/measure.js";
import type { Op } from "../lib/blocks.js";
import { startMiniflare } from "../peers/miniflare.js";
import type { MiniflareHandle } from "../peers/miniflare.js";
import { startRestate } from "../peers/restate.js";
import type { Restate } from "../peers/restate.js";
import { lattices } from "../../src/index.js";
import { readCount, startStratus } from "./stratus.js";
import type { StratusSetup } from "./stratus.js";

const CALLERS = 64;
const HOT = "hot";
const RMW_KEY = "hot-rmw";
const REQUEST_TIMEOUT_MS = 30_000;

const t0 = performance.now();
/** Progress with the seconds since start: startup is a large part of a quick run. */
const log = (msg: string): void =>
  void process.stderr.write(`+${((performance.now() - t0) / 1000).toFixed(1)}s ${msg}\n`);
const peersDir = join(import.meta.dirname, "..", "peers");

const [restateScratch, restateBin, mfScratch, tmp] = process.argv
  .slice(2, 6)
  .map((a) => resolvePath(a));
const quick = process.argv.includes("--quick");
const peersOnly = process.argv.includes("--peers-only");
const txnOnly = process.argv.includes("--txn");
const HOT_RA = "hot-ra";
if (
  restateScratch === undefined ||
  restateBin === undefined ||
  mfScratch === undefined ||
  tmp === undefined
) {
  log("usage: netns.ts <restate scratch> <restate bin> <miniflare scratch> <tmp> [--quick]");
  process.exit(2);
}

/**
 * One HTTP request (keep-alive); resolves with the body as a number, rejects on non-2xx. node:http
 * rather than fetch (undici) for both peers: in one quick run here fetch got the Durable Object
 * 60 increments/s against node:http's 141 (seq p50 5.4 vs 2.1 ms), so this client favours them.
 */
function post(agent: Agent, url: URL, body?: string, attempt = 1): Promise<number> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      url,
      {
        method: body === undefined ? "GET" : "POST",
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        answered = true;
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(Number(text));
          else reject(new Error(`${url.pathname}: HTTP ${status} ${text.slice(0, 300)}`));
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url.pathname}: no answer in time`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed as idle just as we reused it: the request never
      // reached the server, so sending it again counts nothing twice (Node's documented remedy;
      // a double count would still show as negative lost updates).
      if (req.reusedSocket && !answered && err.code === "ECONNRESET" && attempt < 3) {
        resolve(post(agent, url, body, attempt + 1));
      } else {
        reject(new Error(`${req.method} ${url.pathname}: ${err.message}`));
      }
    });
    req.end(body);
  });
}

/**
 * How long each side runs unmeasured before its first block. The `stratus up` processes here are
 * fresh, and V8 runs their hot path interpreted for about a second: with 0.3 s the first blocks
 * measured that warm-up (2,300-2,600 read-atomic increments/s, against 3,100-3,900 warmed).
 */
const WARMUP_MS = quick ? 1500 : 2000;

/** The namespace must have loopback only: the peers' servers cannot reach any network. */
function assertLoopbackOnly(): void {
  const names = Object.keys(networkInterfaces());
  if (names.some((n) => n !== "lo")) {
    throw new Error(`not in a private network namespace: interfaces ${names.join(", ")}`);
  }
}

interface Running {
  stratus?: StratusSetup;
  restate?: Restate;
  miniflare?: MiniflareHandle;
}

async function start(r: Running, agent: Agent): Promise<void> {
  const dir = tmp as string;
  mkdirSync(join(dir, "do"), { recursive: true });
  log(`starting ${peersOnly ? "" : "Stratus (Redis everysec, memory), "}Restate and miniflare`);
  const [s, rs, mf] = await Promise.allSettled([
    peersOnly ? Promise.resolve(undefined) : startStratus(dir, { memory: !txnOnly }),
    startRestate({
      scratch: restateScratch as string,
      serverBin: restateBin as string,
      tmp: dir,
      endpoint: join(peersDir, "counter-endpoint.mjs"),
      probe: (ingress) => post(agent, new URL(`${ingress}/counter/probe/get`), "null"),
      log,
    }),
    txnOnly
      ? Promise.resolve(undefined)
      : startMiniflare({
          scratch: mfScratch as string,
          script: join(peersDir, "do-counter.mjs"),
          durableObjects: { COUNTER: "Counter" },
          persistDir: join(dir, "do"),
        }),
  ]);
  log("all started");
  if (s.status === "fulfilled") r.stratus = s.value;
  if (rs.status === "fulfilled") r.restate = rs.value;
  if (mf.status === "fulfilled") r.miniflare = mf.value;
  for (const x of [s, rs, mf]) if (x.status === "rejected") throw x.reason;
}

/**
 * `--txn`: one read-atomic run per increment (exactly-once: a retried request commits once)
 * against Restate's virtual-object counter (exactly-once too), alternating.
 */
async function measureTxn(r: Running, agent: Agent): Promise<Record<string, number>> {
  const restate = r.restate as Restate;
  const s = r.stratus as StratusSetup;
  const restateAdd = new URL(`${restate.ingress}/counter/${HOT_RA}/add`);
  const restateGet = new URL(`${restate.ingress}/counter/${HOT_RA}/get`);
  const sides: Record<string, Op> = {
    ra_counter: () => s.redis.cloud.call("state_incr", [HOT_RA], { consistency: "read-atomic" }),
    restate: () => post(agent, restateAdd, "1"),
  };
  const o = quick
    ? { rounds: 3, blockMs: 800, warmupMs: WARMUP_MS, callers: CALLERS }
    : { rounds: 6, blockMs: 2000, warmupMs: WARMUP_MS, callers: CALLERS };
  log(`read-atomic runs vs Restate: ${CALLERS} callers on one hot key, ${o.rounds} rounds`);
  const hot = await alternate(sides, o, log);
  restate.check();
  const ra = hot.ra_counter!;
  const rs = hot.restate!;
  // Read both ways: a plain get and a transaction see one state.
  const plain = await readCount(s.redis.cloud, HOT_RA);
  const tx = await s.redis.cloud.txn.begin();
  const inTxn = Number(await tx.get(HOT_RA));
  await tx.abort();
  return {
    ra_counter_ops: ra.opsPerSec,
    ra_counter_p50_ms: ra.p50Ms,
    ra_counter_p99_ms: ra.p99Ms,
    ra_counter_lost_updates: Math.max(ra.acknowledged - plain, ra.acknowledged - inTxn),
    ra_counter_extra_updates: Math.max(plain, inTxn) - ra.acknowledged,
    restate_counter_ops: rs.opsPerSec,
    restate_counter_lost_updates: rs.acknowledged - (await post(agent, restateGet)),
    ...ratioMetrics("ra_counter_vs_restate", blockRatio(ra.blockOps, rs.blockOps)),
  };
}

/** A block ratio as the three metrics `putRatio` writes. */
function ratioMetrics(name: string, r: BlockRatio): Record<string, number> {
  const m: Record<string, number> = {};
  putRatio(m, name, r);
  return m;
}

async function measure(r: Running, agent: Agent): Promise<Record<string, number>> {
  if (txnOnly) return measureTxn(r, agent);
  const restate = r.restate as Restate;
  const mf = r.miniflare as MiniflareHandle;
  const restateAdd = new URL(`${restate.ingress}/counter/${HOT}/add`);
  const restateGet = new URL(`${restate.ingress}/counter/${HOT}/get`);
  const doAdd = new URL(`${mf.url}${HOT}/add`);
  const doGet = new URL(`${mf.url}${HOT}`);
  const sides: Record<string, Op> = {};
  const s = r.stratus;
  if (s !== undefined && !peersOnly) {
    const { redis, memory } = s;
    sides.counter = () => redis.cloud.call("state_incr", [HOT]);
    sides.client_merge = () => redis.cloud.merge(HOT, lattices.counter(1));
    sides.rmw = () => redis.cloud.call("state_rmw", [RMW_KEY]);
    sides.memory_counter = () => memory.cloud.call("state_incr", [HOT]);
  }
  sides.restate = () => post(agent, restateAdd, "1");
  sides.do = () => post(agent, doAdd, "1");

  const o = quick
    ? { rounds: 3, blockMs: 800, warmupMs: WARMUP_MS, callers: CALLERS }
    : { rounds: 6, blockMs: 2000, warmupMs: WARMUP_MS, callers: CALLERS };
  log(
    `${Object.keys(sides).join(", ")}: ${CALLERS} callers on one hot key, ` +
      `${o.rounds} rounds of ${o.blockMs} ms blocks`,
  );
  const hot = await alternate(sides, o, log);
  restate.check();
  // One caller: the latency of a single increment with no queue in front of it (the peers'
  // published figures are of this kind). RMW is left out: alone it loses nothing.
  const { rmw: _, ...seqSides } = sides;
  const so = quick
    ? { rounds: 2, blockMs: 300, warmupMs: 100, callers: 1 }
    : { rounds: 4, blockMs: 1000, warmupMs: 300, callers: 1 };
  log(`the same with 1 caller, ${so.rounds} rounds of ${so.blockMs} ms blocks`);
  const seq = await alternate(seqSides, so, log);
  restate.check();

  const get = <T>(r: Record<string, T>, k: string): T => {
    const v = r[k];
    if (v === undefined) throw new Error(`no result for ${k}`);
    return v;
  };
  /** Increments acknowledged by a side in both passes. */
  const acked = (k: string): number => get(hot, k).acknowledged + (seq[k]?.acknowledged ?? 0);
  const m: Record<string, number> = {};
  const report = (prefix: string, k: string, ops = `${prefix}_ops`): void => {
    m[ops] = get(hot, k).opsPerSec;
    m[`${prefix}_p50_ms`] = get(hot, k).p50Ms;
    m[`${prefix}_p99_ms`] = get(hot, k).p99Ms;
    m[`${prefix}_seq_p50_ms`] = get(seq, k).p50Ms;
  };
  if (s !== undefined) {
    report("counter", "counter", "counter_hot_ops");
    report("client_merge", "client_merge");
    report("memory_counter", "memory_counter");
    m.rmw_ops = get(hot, "rmw").opsPerSec;
    m.counter_lost_updates =
      acked("counter") + acked("client_merge") - (await readCount(s.redis.cloud, HOT));
    m.memory_counter_lost_updates =
      acked("memory_counter") - (await readCount(s.memory.cloud, HOT));
    m.rmw_lost_updates = acked("rmw") - (await readCount(s.redis.cloud, RMW_KEY));
  }
  report("restate_counter", "restate");
  // The probe in startRestate read a different key; every add on the hot key was counted here.
  m.restate_counter_lost_updates = acked("restate") - (await post(agent, restateGet));
  report("do_counter", "do");
  m.do_counter_lost_updates = acked("do") - (await post(agent, doGet));
  if (s !== undefined) {
    const counter = get(hot, "counter").blockOps;
    putRatio(m, "counter_vs_restate", blockRatio(counter, get(hot, "restate").blockOps));
    putRatio(m, "counter_vs_durable_objects", blockRatio(counter, get(hot, "do").blockOps));
  }
  return m;
}

async function main(): Promise<Record<string, number>> {
  assertLoopbackOnly();
  const agent = new Agent({ keepAlive: true, maxSockets: CALLERS });
  const r: Running = {};
  try {
    await start(r, agent);
    return await measure(r, agent);
  } catch (err) {
    const tail = r.restate?.logTail();
    if (tail) log(`--- restate-server log (tail) ---\n${tail}\n---`);
    throw err;
  } finally {
    agent.destroy();
    await Promise.allSettled([r.stratus?.stop(), r.restate?.stop(), r.miniflare?.stop()]);
  }
}

let code = 0;
try {
  const metrics = await main();
  process.stdout.write(`STATE_RESULT ${JSON.stringify(metrics)}\n`);
} catch (err) {
  log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
}
process.exit(code);

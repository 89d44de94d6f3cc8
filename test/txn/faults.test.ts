/**
 * Issue 10's fault test: read-atomic DAG runs on a multi-process cluster over a real Redis while
 * node processes are SIGKILLed at the commit point (and replaced) and Redis itself is SIGKILLed
 * and restarted. The control, the same workload at `lww` (direct writes), runs on the same
 * cluster at the same time, so every fault hits both: it must show fractured reads and
 * duplicated effects, which proves the checker sees them; read-atomic must show none of the four
 * anomalies. Each workload (testing/txn) has 3 writer lanes of DAG runs, 3 of client
 * transactions (direct client writes at lww), 5 lanes of forked runs and 5 of plain merges into
 * one shared counter and set (which every writer also merges into), and 3 reader lanes that read
 * a group as a chain, a fork or two sources; every call is retried with its
 * request id until it succeeds (a failed client commit is sent again as it was, unless it says
 * nothing was written); the checker reads the final state straight from storage.
 *
 * Faults, in order, each at a writer's gate (just before its last write: the run is past its
 * other writes and about to commit), at most two nodes down at once:
 * - hold (one lww, one read-atomic run): the run is held at the gate and its node SIGKILLed.
 *   When its next attempt (the scheduler re-runs it elsewhere) reaches the gate, the test reads
 *   that group first (a client transaction, or plain gets at lww): lww shows the dead attempt's
 *   half-written group, read-atomic nothing of it.
 * - redis: a run is held while Redis is SIGKILLed and started again. Redis runs with AOF and
 *   `appendfsync always`: a write is on disk before Redis acknowledges it, so a commit record
 *   acknowledged to a node survives (`everysec` could lose the last second of them).
 * - commit (read-atomic): the run goes on and its node is SIGKILLed the moment its commit record
 *   reaches storage (seen on the store's change stream), before the node can report the result.
 *   (Under lww the commit point would be its last key; the control's own kill is a hold.)
 * Every kill also takes the other runs on that node, of both workloads, mid-flight.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { userKey } from "../../src/state/index.js";
import { TxnWorkload } from "../../testing/txn/index.js";
import type { SharedReport, TagValue, TxnCheckReport } from "../../testing/txn/index.js";
import { TXN_PREFIX, tidForRequest } from "../../src/txn/index.js";
import { FaultCluster, readFinal } from "../../testing/txn/fault-cluster.js";
import type { GateCall } from "../../testing/txn/fault-cluster.js";

type Level = "lww" | "read-atomic";
type Fault = { kind: "hold" | "commit"; level: Level } | { kind: "redis" };

const PLAN: Fault[] = [
  { kind: "hold", level: "lww" },
  { kind: "hold", level: "read-atomic" },
  { kind: "redis" },
  { kind: "commit", level: "read-atomic" },
];
/** Acknowledged writes (of both workloads) before the first fault, between faults, after the last. */
const GAP = 6;

interface Outcome {
  report: TxnCheckReport;
  /** The shared counter and set, read plainly and in a transaction. */
  shared: { plain: SharedReport; txn: SharedReport };
  /** What the reader at the held run's re-run saw. */
  holdReads: TagValue[][];
  /** Each request whose node was killed under it, and the epochs of its commit records. */
  kills: { kind: string; tag: string; records: number[] }[];
}

async function runBoth(c: FaultCluster): Promise<Record<Level, Outcome>> {
  const t0 = performance.now();
  const stamp = Date.now().toString(36);
  const levels: Level[] = ["lww", "read-atomic"];
  const ws = new Map<Level, TxnWorkload>(
    levels.map((level) => [
      level,
      new TxnWorkload(c.cloud, {
        ns: `${level === "lww" ? "lww" : "ra"}${stamp}`,
        consistency: level,
        // 16 lanes merge into one shared counter and set: 3 writers' runs, 3 client
        // transactions (direct writes at lww), 5 runs of a forked DAG, 5 plain merges.
        clientWriters: 3,
        forkMergers: 5,
        plainMergers: 5,
        gate: c.gateUrl,
      }),
    ]),
  );
  const wOf = (l: Level): TxnWorkload => ws.get(l) as TxnWorkload;
  const levelOf = (tag: string): Level => (tag.startsWith("lww") ? "lww" : "read-atomic");
  const acked = (): number => wOf("lww").progress.acked + wOf("read-atomic").progress.acked;
  const out = Object.fromEntries(
    levels.map((l) => [l, { holdReads: [], kills: [] }]),
  ) as unknown as Record<Level, Omit<Outcome, "report">>;
  /** Held requests → the read made when their next attempt reaches the gate. */
  const held = new Map<string, Promise<void> | undefined>();
  let next = 0;
  let armedAt = GAP;
  let redisDown = false;
  let planDone!: () => void;
  const allFired = new Promise<void>((r) => (planDone = r));
  const log = (s: string): void =>
    console.log(`# ${((performance.now() - t0) / 1000).toFixed(1)} s: ${s}`);
  const inFlight = (): string =>
    levels
      .map((l) => `${l} ${wOf(l).progress.writesInFlight}w+${wOf(l).progress.readsInFlight}r`)
      .join(", ");
  const fired = (): void => {
    next++;
    armedAt = acked() + GAP;
    if (next === PLAN.length) planDone();
  };
  const kill = async (victim: string, what: string): Promise<void> => {
    if (!c.nodes.has(victim)) return log(`node ${victim} is gone already (${what})`);
    log(`SIGKILL node ${victim} ${what}; runs in flight: ${inFlight()}`);
    const { replaced } = await c.killAndReplace(victim);
    replaced.then(
      (ms) => log(`replacement of ${victim} joined after ${(ms / 1000).toFixed(1)} s`),
      () => log(`replacement of ${victim} was still starting at the end`),
    );
  };

  c.gate(async ({ tag, pid }: GateCall) => {
    const level = levelOf(tag);
    const w = wOf(level);
    const group = w.groupOf(tag) as string;
    if (held.has(tag)) {
      // The held run's next attempt (and any other, meanwhile): its group, before it goes on.
      let read = held.get(tag);
      if (read === undefined) {
        read = c.readGroup(level, w.groupKeys(group)).then((seen) => {
          out[level].holdReads.push(seen);
          w.checker.read(group, seen);
        });
        held.set(tag, read);
      }
      return read;
    }
    const f = PLAN[next];
    if (f === undefined || redisDown || acked() < armedAt) return;
    if (f.kind === "redis") {
      fired();
      redisDown = true;
      log(`SIGKILL Redis holding ${tag}; runs in flight: ${inFlight()}`);
      await c.restartRedis();
      redisDown = false;
      log("Redis restarted");
      return;
    }
    const victim = c.nodeByPid(pid);
    // At most two nodes down at once; the victim must still be live.
    if (f.level !== level || victim === undefined || c.nodes.size < 2) return;
    fired();
    out[level].kills.push({ kind: f.kind, tag, records: [] });
    if (f.kind === "hold") {
      held.set(tag, undefined);
      return kill(victim, `holding ${tag}`); // the reply goes nowhere: the node is gone
    }
    const watched =
      level === "read-atomic"
        ? `${TXN_PREFIX}${tidForRequest(tag)}.`
        : userKey(w.groupKeys(group).at(-1));
    const { written } = await c.nextWrite(watched);
    void written.then(() => kill(victim, `as ${tag}'s commit point reached storage`));
  });

  const runs = levels.map((l) => wOf(l).run());
  // A deadline, not a pause: a fault that never fires would otherwise hang until the runner's.
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([
    allFired,
    new Promise((_, reject) => {
      deadline = setTimeout(
        () => reject(new Error(`only ${next} of ${PLAN.length} faults fired in 120 s`)),
        120_000,
      );
    }),
  ]).finally(() => clearTimeout(deadline));
  await Promise.all(levels.map((l) => wOf(l).whenAcked(wOf(l).progress.acked + GAP)));
  for (const l of levels) wOf(l).stop();
  await Promise.all(runs);
  c.gate(() => Promise.resolve());
  const results = {} as Record<Level, Outcome>;
  const store = await c.store();
  for (const level of levels) {
    const w = wOf(level);
    const o = out[level];
    const { final, records, shared } = await readFinal(
      store,
      w,
      level,
      o.kills.map((k) => k.tag),
    );
    for (const k of o.kills) k.records = records.get(k.tag) ?? [];
    const report = w.checker.check(final);
    const { examples, ...figures } = report;
    log(`${level}: ${JSON.stringify(figures)}`);
    const sharedReport = { plain: w.shared.check(shared.plain), txn: w.shared.check(shared.txn) };
    log(`${level}: shared counter and set ${JSON.stringify(sharedReport)}`);
    log(`${level}: retried errors ${JSON.stringify(w.progress.errors)}`);
    log(`${level}: read at the held run's re-run ${JSON.stringify(o.holdReads)}`);
    if (level === "read-atomic") {
      // Epoch 1 is fenced when a request starts; its first attempt runs as epoch 2, so a record
      // at 2 is the killed attempt's own commit, found and returned by the re-run.
      log(`${level}: killed requests' commit records (epochs) ${JSON.stringify(o.kills)}`);
    }
    for (const e of examples.slice(0, 4)) console.log(`#   ${e}`);
    results[level] = { ...o, report, shared: sharedReport };
  }
  await store.close();
  return results;
}

describe("read-atomic runs under SIGKILLed nodes and a restarted Redis (3 node processes)", () => {
  let c: FaultCluster;
  let o: Record<Level, Outcome>;
  before(async () => {
    c = await FaultCluster.start();
    o = await runBoth(c);
  });
  after(async () => {
    await c?.stop();
  });

  it("control: the same workload at lww shows fractured reads and duplicated effects", () => {
    const { report: r, holdReads, kills } = o.lww;
    assert.equal(kills.length, 1, "an lww run had its node killed under it");
    assert.ok(r.fracturedReads > 0, "lww reads half-written groups");
    assert.ok(r.duplicatedEffects > 0, "lww re-runs apply effects twice");
    // Deterministic: the held run's first writes reached storage before its node died.
    assert.equal(holdReads.length, 1);
    assert.ok(new Set(holdReads[0]).size > 1, "the held run's group is half-written");
    assert.equal(r.acked, r.writes, "every request was acknowledged in the end");
    // Re-runs merge into the shared counter again: more than every acknowledged and unknown one.
    assert.ok(o.lww.shared.plain.duplicated > 0, JSON.stringify(o.lww.shared.plain));
  });

  it("read-atomic: no fractured or dirty read, no lost commit, no duplicated effect", () => {
    const { report: r, holdReads, kills } = o["read-atomic"];
    assert.deepEqual(
      {
        fracturedReads: r.fracturedReads,
        dirtyReads: r.dirtyReads,
        lostCommits: r.lostCommits,
        duplicatedEffects: r.duplicatedEffects,
      },
      { fracturedReads: 0, dirtyReads: 0, lostCommits: 0, duplicatedEffects: 0 },
      r.examples.join("\n"),
    );
    assert.equal(r.acked, r.writes, "every request was acknowledged in the end");
    assert.equal(r.counterTotal, r.acked, "the counters add up to the acknowledgements");
    assert.equal(holdReads.length, 1);
    assert.equal(new Set(holdReads[0]).size, 1, "the held run left nothing visible");
    // Each request whose node was killed under it committed exactly once, by whichever attempt.
    assert.equal(kills.length, 2);
    for (const k of kills) assert.deepEqual(k.records.length, 1, `${k.kind} ${k.tag}`);
  });

  it("one state: the shared counter and set hold every acknowledged merge once, read plainly or in a transaction", () => {
    const s = o["read-atomic"].shared;
    for (const [how, r] of Object.entries(s)) {
      assert.ok(r.acked > 0, `${how}: merges were acknowledged`);
      assert.deepEqual(
        {
          duplicated: r.duplicated,
          lost: r.lost,
          missingTags: r.missingTags,
          phantomTags: r.phantomTags,
        },
        { duplicated: 0, lost: 0, missingTags: 0, phantomTags: 0 },
        `${how}: ${JSON.stringify(r)}`,
      );
    }
    assert.equal(s.plain.counter, s.txn.counter, "plain and transactional readers agree");
  });
});

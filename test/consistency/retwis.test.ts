/**
 * The Retwis-style workload on a scheduler and three node processes over Redis, one node's cache
 * lagging: under lww the checker sees anomalies (the control run), and each stronger level shows
 * none of those it promises to prevent. End to end, so a few hundred runs per level (the suite's
 * time budget); the 10,000-run counts are in sessions.test.ts, over the same policies in-process.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PREVENTS, runRetwis } from "../../testing/consistency/index.js";
import type { Consistency } from "../../src/protocol/index.js";
import { startRetwisCluster } from "../../testing/consistency/cluster.js";
import type { RetwisCluster } from "../../testing/consistency/cluster.js";

const RUNS = 200;

describe("consistency: Retwis on 3 node processes with a lagging cache", () => {
  let c: RetwisCluster;
  before(async () => {
    c = await startRetwisCluster();
  });
  after(async () => {
    await c.stop();
  });

  const run = (level: Consistency, runs: number) =>
    runRetwis(c.cloud, { ns: `${level}-${randomUUID().slice(0, 6)}`, consistency: level, runs });

  it("lww (control): the checker sees every kind of anomaly", async () => {
    const r = await run("lww", RUNS);
    const { counts } = r.tally;
    assert.ok(counts.replyWithoutParent > 0, "a reply without its parent");
    assert.ok(counts.twoVersions > 0, "two versions of one key");
    assert.ok(counts.olderThanSeen > 0, "a read older than one seen");
    assert.ok(counts.fractured > 0, "a fractured snapshot");
  });

  for (const level of ["repeatable-read", "causal", "transactional-causal"] as const) {
    it(`${level}: 0 of ${PREVENTS[level]?.join(", ")} in ${RUNS} runs`, async () => {
      const r = await run(level, RUNS);
      assert.ok(r.tally.runs >= RUNS * 0.99, `${r.tally.runs} runs checked`);
      assert.equal(r.tally.violations(level), 0);
    });
  }
});

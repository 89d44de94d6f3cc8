/**
 * The levels' promises in numbers: the Retwis workload over the real session policies of three
 * nodes (one cache lagging) in this process (see testing/consistency/sim.ts for what is simulated). lww, the control,
 * shows every anomaly; each stronger level shows none of those it prevents in 10,000 runs (checked; a
 * transactional-causal run that still conflicts after its retries fails, and is not counted).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PREVENTS, runRetwis } from "../../testing/consistency/index.js";
import type { Consistency } from "../../src/protocol/index.js";
import { SimCluster } from "../../testing/consistency/sim.js";

/** The suite for some levels (one file per level, so each fits the runner's per-file timeout). */
export function levelSuite(
  levels: readonly Exclude<Consistency, "lww" | "read-atomic">[],
  control: boolean,
): void {
  describe(`consistency: ${levels.join(", ")} over 10,000 runs (in-process nodes, one cache lagging)`, () => {
    let sim: SimCluster;
    before(async () => {
      sim = await SimCluster.start();
    });
    after(async () => {
      await sim.close();
    });

    if (control)
      it("lww (control): every kind of anomaly happens", async () => {
        const r = await runRetwis(sim, {
          ns: `lww-${randomUUID()}`,
          consistency: "lww",
          runs: 1000,
        });
        for (const [a, n] of Object.entries(r.tally.counts)) assert.ok(n > 0, `${a}: ${n}`);
      });

    for (const level of levels) {
      it(`${level}: 0 runs with ${PREVENTS[level]?.join(", ")} in 10,000`, async () => {
        const r = await runRetwis(sim, {
          ns: `${level}-${randomUUID()}`,
          consistency: level,
          runs: 10_000,
        });
        // transactional-causal may give up on a run whose retries all met a conflict (its
        // SNAPSHOT_CONFLICT reaches the caller); every other failure would be a bug.
        const failed = Object.entries(r.errors).filter(([code]) => code !== "SNAPSHOT_CONFLICT");
        assert.deepEqual(failed, []);
        assert.ok(r.tally.runs >= 9_900, `${r.tally.runs} runs completed`);
        assert.equal(r.tally.violations(level), 0);
      });
    }
  });
}

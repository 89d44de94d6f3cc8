/**
 * Closed-loop load in alternating blocks: several systems measured under the same number of
 * callers, one short block each in turn, so that all of them see the same (shared, noisy) machine.
 */
import { percentiles } from "./measure.js";

/** One system under load: an operation that a caller repeats back to back. */
export type Op = () => Promise<unknown>;

export interface BlockResult {
  /** Operations completed inside the timed window. */
  ops: number;
  /** Operations acknowledged in total (the warm-up and the drain included). */
  acknowledged: number;
  /** Milliseconds of the timed window. */
  ms: number;
  /** Latency of every operation that started inside the window, in milliseconds. */
  latenciesMs: number[];
}

/**
 * Keeps `callers` operations in flight for `ms` milliseconds and records each one. A failed
 * operation fails the block: a benchmark that silently drops errors measures nothing.
 */
export async function closedLoop(op: Op, callers: number, ms: number): Promise<BlockResult> {
  const latenciesMs: number[] = [];
  let ops = 0;
  let acknowledged = 0;
  let stop = false;
  const t0 = performance.now();
  const end = t0 + ms;
  const lanes = Array.from({ length: callers }, async () => {
    try {
      while (!stop) {
        const s = performance.now();
        await op();
        const e = performance.now();
        acknowledged++;
        if (e <= end) {
          ops++;
          latenciesMs.push(e - s);
        } else stop = true;
      }
    } catch (err) {
      stop = true; // the other lanes end after their current operation
      throw err;
    }
  });
  // allSettled first: no lane may still be running when the block reports its failure.
  const settled = await Promise.allSettled(lanes);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return { ops, acknowledged, ms, latenciesMs };
}

interface Acc {
  ops: number;
  ms: number;
  acked: number;
  lat: number[];
  blocks: number[];
}

export interface SideSummary {
  /** Operations per second over all timed windows. */
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Every acknowledged operation, warm-up included (for lost-update accounting). */
  acknowledged: number;
  /** Operations per second of each timed block, round by round (pairs with other sides'). */
  blockOps: number[];
}

/**
 * Runs `rounds` rounds; in each, every side gets one block of `blockMs` with `callers` in flight,
 * in turn. Each side first gets an untimed warm-up block of `warmupMs` (its acknowledged
 * operations still count in `acknowledged`).
 */
export async function alternate(
  sides: Record<string, Op>,
  o: { rounds: number; blockMs: number; warmupMs: number; callers: number },
  log: (msg: string) => void = () => undefined,
): Promise<Record<string, SideSummary>> {
  const names = Object.keys(sides);
  const acc = new Map(
    names.map((n) => [n, { ops: 0, ms: 0, acked: 0, lat: [] as number[], blocks: [] as number[] }]),
  );
  for (const name of names) {
    const w = await closedLoop(sides[name] as Op, o.callers, o.warmupMs);
    (acc.get(name) as { acked: number }).acked += w.acknowledged;
  }
  for (let r = 0; r < o.rounds; r++) {
    for (const name of names) {
      const b = await closedLoop(sides[name] as Op, o.callers, o.blockMs);
      const a = acc.get(name) as Acc;
      a.blocks.push((b.ops * 1000) / b.ms);
      a.ops += b.ops;
      a.ms += b.ms;
      a.acked += b.acknowledged;
      for (const l of b.latenciesMs) a.lat.push(l);
    }
    log(`round ${r + 1}/${o.rounds} done`);
  }
  const out: Record<string, SideSummary> = {};
  for (const name of names) {
    const a = acc.get(name) as Acc;
    const p = percentiles(a.lat);
    out[name] = {
      opsPerSec: Math.round((a.ops * 1000) / a.ms),
      p50Ms: p.p50,
      p99Ms: p.p99,
      acknowledged: a.acked,
      blockOps: a.blocks,
    };
  }
  return out;
}

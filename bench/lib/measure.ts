import * as hdr from "hdr-histogram-js";

/** Latency percentiles in microseconds. */
export interface Latency {
  p50: number;
  p99: number;
  mean: number;
  count: number;
}

function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/**
 * Runs `op` `n` times one after another (after `warmup` unmeasured runs) and returns the latency
 * distribution, recorded in nanoseconds and reported in microseconds.
 */
export async function sequentialLatency(
  op: (i: number) => Promise<unknown>,
  n: number,
  warmup = Math.min(1000, n),
): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await op(i);
  const h = histogram();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    h.recordValue(Number(process.hrtime.bigint() - t0));
  }
  const out = {
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    mean: h.mean / 1000,
    count: h.totalCount,
  };
  h.destroy();
  return out;
}

/**
 * Keeps `inflight` operations running for `ms` milliseconds (after `warmupMs`) and returns
 * completed operations per second.
 */
export async function throughput(
  op: (i: number) => Promise<unknown>,
  inflight: number,
  ms: number,
  warmupMs = Math.min(500, ms / 4),
): Promise<number> {
  let i = 0;
  let done = 0;
  let measuring = false;
  let stop = false;
  const lanes = Array.from({ length: inflight }, async () => {
    let n = 0;
    while (!stop) {
      await op(i++);
      if (measuring) done++;
      // An operation that settles synchronously (the memory backend) never leaves the microtask
      // queue; yield now and then so timers, and so the end of the run, can fire.
      if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
    }
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  measuring = false;
  const elapsed = performance.now() - t0;
  stop = true;
  await Promise.all(lanes);
  return Math.round((done * 1000) / elapsed);
}

/** p50 and p99 of samples already in hand (any unit), nearest-rank. */
export function percentiles(xs: readonly number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * Sequential latency of several operations measured in alternating blocks, so that each sees
 * the same machine (a shared 2-core box drifts between runs by more than the differences we
 * measure): a ratio of two p50s from one interleaved run is what a target is about. Times in ms.
 */
export async function interleaved(
  ops: Record<string, (i: number) => Promise<unknown>>,
  n: number,
  block = 100,
  warmup = 500,
): Promise<Record<string, { p50: number; p99: number }>> {
  const names = Object.keys(ops);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (const name of names) for (let i = 0; i < warmup; i++) await ops[name]?.(i);
  for (let done = 0; done < n; done += block) {
    for (const name of names) {
      const op = ops[name] as (i: number) => Promise<unknown>;
      const out = samples[name] as number[];
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await op(done + i);
        out.push(performance.now() - t0);
      }
    }
  }
  return Object.fromEntries(names.map((k) => [k, percentiles(samples[k] as number[])]));
}

/**
 * Throughput of several operations under the same load (`inflight` at a time), measured in
 * alternating blocks of `blockMs` so that machine drift hits all of them alike; returns the mean
 * operations per second of each over its blocks.
 */
export async function alternatingThroughput(
  ops: Record<string, (i: number) => Promise<unknown>>,
  inflight: number,
  blockMs: number,
  blocks: number,
): Promise<Record<string, number>> {
  const names = Object.keys(ops);
  const sums: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  for (let b = 0; b < blocks; b++) {
    for (const name of names) {
      const op = ops[name] as (i: number) => Promise<unknown>;
      sums[name] = (sums[name] ?? 0) + (await throughput(op, inflight, blockMs, blockMs / 2));
    }
  }
  return Object.fromEntries(names.map((k) => [k, Math.round((sums[k] ?? 0) / blocks)]));
}

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

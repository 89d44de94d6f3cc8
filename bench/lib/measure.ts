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

/** A ratio measured once per block: its median, with the spread of the blocks' ratios. */
export interface BlockRatio {
  median: number;
  min: number;
  max: number;
}

/** The median of `xs` (a sorted copy; the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length === 0) return NaN;
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The ratio `num[i] / den[i]` of each pair of blocks measured side by side, as its median and
 * spread: a headline ratio from one pooled figure per side hides how much it moved within a run.
 */
export function blockRatio(num: readonly number[], den: readonly number[]): BlockRatio {
  const n = Math.min(num.length, den.length);
  const rs = Array.from({ length: n }, (_, i) => (num[i] as number) / (den[i] as number));
  return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
}

/** Writes a block ratio as `name`, `name_min` and `name_max`. */
export function putRatio(m: Record<string, number>, name: string, r: BlockRatio): void {
  m[name] = r.median;
  m[`${name}_min`] = r.min;
  m[`${name}_max`] = r.max;
}

/**
 * Runs each operation alone, one call after another, for `ms` milliseconds: a fresh process runs
 * its hot path interpreted until V8 has seen it enough (about a second here), and a warm-up
 * counted in calls gives a slow peer many seconds and a fast one a fraction of one.
 */
export async function warmUp(
  ops: Record<string, (i: number) => Promise<unknown>>,
  ms: number,
): Promise<void> {
  for (const op of Object.values(ops)) {
    const end = performance.now() + ms;
    for (let i = 0; performance.now() < end; i++) await op(i);
  }
}

/** Latency of one operation over an interleaved run: pooled percentiles and each block's p50. */
export interface Interleaved {
  p50: number;
  p99: number;
  /** The p50 of each block, in order: pairs with the other operations' blocks. */
  blocks: number[];
}

/**
 * Sequential latency of several operations measured in alternating blocks, so that each sees
 * the same machine (a shared 2-core box drifts between runs by more than the differences we
 * measure): a ratio of two p50s from one interleaved run is what a target is about (see
 * `blockRatio` over `blocks`). Times in ms.
 */
export async function interleaved(
  ops: Record<string, (i: number) => Promise<unknown>>,
  n: number,
  block = 100,
  warmup = 500,
): Promise<Record<string, Interleaved>> {
  const names = Object.keys(ops);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  const blocks: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (const name of names) for (let i = 0; i < warmup; i++) await ops[name]?.(i);
  for (let done = 0; done < n; done += block) {
    for (const name of names) {
      const op = ops[name] as (i: number) => Promise<unknown>;
      const out = samples[name] as number[];
      const mine: number[] = [];
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await op(done + i);
        mine.push(performance.now() - t0);
      }
      for (const x of mine) out.push(x);
      (blocks[name] as number[]).push(percentiles(mine).p50);
    }
  }
  return Object.fromEntries(
    names.map((k) => [
      k,
      { ...percentiles(samples[k] as number[]), blocks: blocks[k] as number[] },
    ]),
  );
}

/**
 * Throughput of several operations under the same load (`inflight` at a time), measured in
 * alternating blocks of `blockMs` so that machine drift hits all of them alike; returns the mean
 * operations per second of each over its blocks (see `alternatingBlocks` for each block's).
 */
export async function alternatingThroughput(
  ops: Record<string, (i: number) => Promise<unknown>>,
  inflight: number,
  blockMs: number,
  blocks: number,
): Promise<Record<string, number>> {
  const per = await alternatingBlocks(ops, inflight, blockMs, blocks);
  return Object.fromEntries(
    Object.entries(per).map(([k, v]) => [k, Math.round(v.reduce((a, b) => a + b, 0) / v.length)]),
  );
}

/** As `alternatingThroughput`, but each operation's operations per second block by block. */
export async function alternatingBlocks(
  ops: Record<string, (i: number) => Promise<unknown>>,
  inflight: number,
  blockMs: number,
  blocks: number,
): Promise<Record<string, number[]>> {
  const names = Object.keys(ops);
  const out: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let b = 0; b < blocks; b++) {
    for (const name of names) {
      const op = ops[name] as (i: number) => Promise<unknown>;
      (out[name] as number[]).push(await throughput(op, inflight, blockMs, blockMs / 2));
    }
  }
  return out;
}

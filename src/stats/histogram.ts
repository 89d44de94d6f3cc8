import * as hdr from "hdr-histogram-js";

/** Longest latency a histogram tells apart: one hour, in microseconds. Longer ones count as it. */
const MAX_US = 3_600_000_000;

/**
 * A latency histogram in microseconds with 2 significant digits (1% resolution), allocated once:
 * recording a value allocates nothing.
 */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_US,
    numberOfSignificantValueDigits: 2,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Records `ms` milliseconds (clamped to 1 µs … 1 h). */
export function recordMs(h: hdr.Histogram, ms: number): void {
  const us = Math.round(ms * 1000);
  h.recordValue(us < 1 ? 1 : us > MAX_US ? MAX_US : us);
}

/** The histogram as compressed base64 (HdrHistogram's interchange format), for a snapshot. */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/**
 * Adds an encoded histogram into `into`; false (and nothing added) when `encoded` does not decode,
 * since snapshots come from other processes.
 */
export function addEncoded(into: hdr.Histogram, encoded: string): boolean {
  try {
    const h = hdr.decodeFromCompressedBase64(encoded, 32, false);
    into.add(h);
    return true;
  } catch {
    return false;
  }
}

/** The value at `percentile` in milliseconds, 0 for an empty histogram. */
export function percentileMs(h: hdr.Histogram, percentile: number): number {
  if (h.totalCount === 0) return 0;
  return h.getValueAtPercentile(percentile) / 1000;
}

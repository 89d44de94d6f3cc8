/** `stratus status`: the cluster's nodes, functions and statistics as tables, or JSON. */
import type { ClusterStatus } from "../client/index.js";
import type { ClusterStats } from "../stats/index.js";

/** What `stratus status --json` prints: the gateway's status plus the cluster's statistics. */
export type StatusReport = ClusterStatus & { stats: ClusterStats };

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/**
 * The readable form of a status report.
 *
 * @example
 * ```ts
 * process.stdout.write(formatStatus(report, url));
 * ```
 */
export function formatStatus(r: StatusReport, url: string): string {
  const s = r.stats;
  const out: string[] = [
    `cluster ${url}  store ${r.backend}  runs in flight ${r.inFlight}  nodes ${r.nodes.length}`,
    "",
  ];
  const nodes = r.nodes.map((n) => {
    const st = s.nodes[n.id];
    return [
      n.id,
      n.executors,
      n.busy,
      n.queued,
      st === undefined ? "-" : `${Math.round(st.utilisation * 100)}%`,
      st === undefined ? "-" : `${Math.round(st.cacheHitRate * 100)}%`,
      st?.cacheKeys ?? n.cachedKeys,
      st === undefined ? "-" : bytes(st.cacheBytes),
    ];
  });
  out.push(
    nodes.length === 0
      ? "no nodes"
      : table(["NODE", "EXECUTORS", "BUSY", "QUEUED", "UTIL", "CACHE HIT", "KEYS", "CACHE"], nodes),
  );
  const names = [...new Set([...r.functions, ...Object.keys(s.functions)])].sort();
  if (names.length > 0) {
    out.push("");
    out.push(
      table(
        ["FUNCTION", "CALLS/S", "P50 MS", "P99 MS", "QUEUE P50 MS", "CALLS", "ERRORS"],
        names.map((fn) => {
          const f = s.functions[fn];
          if (f === undefined) return [fn, "-", "-", "-", "-", 0, 0];
          return [
            fn,
            f.callsPerSec.toFixed(1),
            ms(f.p50Ms),
            ms(f.p99Ms),
            ms(f.queueMsP50),
            f.calls,
            f.errors,
          ];
        }),
      ),
    );
  }
  if (r.dags.length > 0) {
    out.push("");
    out.push(
      table(
        ["DAG", "RUNS/S", "P50 MS", "P99 MS", "RUNS", "ERRORS"],
        r.dags.map((d) => {
          const run = s.runs[d];
          if (run === undefined) return [d, "-", "-", "-", 0, 0];
          return [
            d,
            run.callsPerSec.toFixed(1),
            ms(run.p50Ms),
            ms(run.p99Ms),
            run.calls,
            run.errors,
          ];
        }),
      ),
    );
  }
  return out.join("\n") + "\n";
}

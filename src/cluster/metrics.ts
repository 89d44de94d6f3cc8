import { createServer } from "node:http";
import type { Server } from "node:http";
import { Registry, Gauge } from "prom-client";
import { addEncoded, latencyHistogram, percentileMs } from "../stats/index.js";
import type { FnWindow } from "../stats/index.js";
import type { StratusProcess } from "./process.js";

/**
 * Prometheus metrics of one process, read from its parts when scraped (nothing is counted twice
 * on the hot path): runs started/ok/failed/retried, runs in flight, executors, busy executors,
 * queued calls, completed invocations, cache hits/misses/keys/bytes.
 *
 * @example
 * ```ts
 * const metrics = await serveMetrics(proc, 9464); // GET http://127.0.0.1:9464/metrics
 * ```
 */
export function metricsRegistry(proc: StratusProcess): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: proc.id });
  const gauge = (name: string, help: string, read: () => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  };
  const d = (): StratusProcess["dispatcher"] => proc.dispatcher;
  gauge(
    "stratus_runs_started_total",
    "Calls and DAG runs this process started.",
    () => d().counts.started,
  );
  gauge("stratus_runs_ok_total", "Runs answered with a result.", () => d().counts.ok);
  gauge("stratus_runs_failed_total", "Runs answered with an error.", () => d().counts.failed);
  gauge(
    "stratus_runs_retried_total",
    "Runs started again after a node was lost.",
    () => d().counts.retries,
  );
  gauge("stratus_runs_in_flight", "Runs waiting for their sink.", () => d().inFlight);
  const node = (): ReturnType<NonNullable<StratusProcess["node"]>["stats"]> | undefined =>
    proc.node?.stats();
  gauge("stratus_executors", "Executor worker threads.", () => node()?.pool.size);
  gauge("stratus_executors_busy", "Executors with work.", () => node()?.pool.busy);
  gauge("stratus_calls_queued", "Invocations waiting for an executor.", () => node()?.pool.queued);
  gauge(
    "stratus_invocations_total",
    "Invocations finished by this node.",
    () => node()?.pool.completed,
  );
  gauge("stratus_cache_hits_total", "Node cache hits.", () => node()?.cache.hits);
  gauge("stratus_cache_misses_total", "Node cache misses.", () => node()?.cache.misses);
  gauge("stratus_cache_keys", "Keys in the node cache.", () => node()?.cache.keys);
  gauge("stratus_cache_bytes", "Bytes in the node cache.", () => node()?.cache.bytes);
  perFunction(registry, proc);
  return registry;
}

/** The window's histogram (`l` or `q`) of one function, as quantiles in seconds. */
function quantiles(w: FnWindow, which: "l" | "q"): [string, number][] {
  const enc = w[which] ?? (which === "l" ? w.a : undefined);
  if (enc === undefined) return [];
  const h = latencyHistogram();
  if (!addEncoded(h, enc)) return [];
  return [
    ["0.5", percentileMs(h, 50) / 1000],
    ["0.99", percentileMs(h, 99) / 1000],
  ];
}

/**
 * Per-function series from this process's latest statistics record (at most one publishing
 * interval old): invocations, errors, latency and queueing-delay quantiles of the node's
 * functions; runs and latency as callers saw them; the node's utilisation and cache hit rate.
 */
function perFunction(registry: Registry, proc: StratusProcess): void {
  const labelled = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (set: (labels: Record<string, string>, v: number) => void) => void,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, v) => this.set(labels, v));
      },
    });
  };
  const rec = (): ReturnType<StratusProcess["stats"]["latest"]> => proc.stats.latest();
  const each = (part: "exec" | "callers", fn: (name: string, w: FnWindow) => void): void => {
    for (const [name, w] of Object.entries(rec()?.[part] ?? {})) fn(name, w);
  };
  labelled(
    "stratus_function_calls_total",
    "Invocations of a function on this node.",
    ["fn"],
    (set) => each("exec", (fn, w) => set({ fn }, w.c)),
  );
  labelled(
    "stratus_function_errors_total",
    "Invocations of a function that failed.",
    ["fn"],
    (set) => each("exec", (fn, w) => set({ fn }, w.e)),
  );
  labelled(
    "stratus_function_latency_seconds",
    "Latency of a function's invocations (queued to settled) over the last window.",
    ["fn", "quantile"],
    (set) =>
      each("exec", (fn, w) =>
        quantiles(w, "l").forEach(([quantile, v]) => set({ fn, quantile }, v)),
      ),
  );
  labelled(
    "stratus_function_queue_seconds",
    "Time a function's invocations waited for an executor over the last window.",
    ["fn", "quantile"],
    (set) =>
      each("exec", (fn, w) =>
        quantiles(w, "q").forEach(([quantile, v]) => set({ fn, quantile }, v)),
      ),
  );
  labelled(
    "stratus_caller_runs_total",
    "Runs this scheduler answered, by DAG or function.",
    ["name"],
    (set) => each("callers", (name, w) => set({ name }, w.c)),
  );
  labelled(
    "stratus_caller_errors_total",
    "Runs this scheduler answered with an error.",
    ["name"],
    (set) => each("callers", (name, w) => set({ name }, w.e)),
  );
  labelled(
    "stratus_caller_latency_seconds",
    "Latency of runs as callers saw them, over the last window.",
    ["name", "quantile"],
    (set) =>
      each("callers", (name, w) =>
        quantiles(w, "l").forEach(([quantile, v]) => set({ name, quantile }, v)),
      ),
  );
  labelled(
    "stratus_node_utilisation",
    "Share of executor time busy over the last window.",
    [],
    (set) => {
      const n = rec()?.node;
      if (n !== undefined) set({}, n.utilisation);
    },
  );
  labelled("stratus_cache_hit_rate", "Cache hits / reads over the last window.", [], (set) => {
    const n = rec()?.node;
    if (n === undefined) return;
    const reads = n.wHits + n.wMisses;
    set({}, reads > 0 ? n.wHits / reads : 0);
  });
}

/** Serves `/metrics` on `host:port`; resolves with the listening server. */
export async function serveMetrics(
  proc: StratusProcess,
  port: number,
  host = "127.0.0.1",
): Promise<Server> {
  const registry = metricsRegistry(proc);
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

import { createServer } from "node:http";
import type { Server } from "node:http";
import { Registry, Gauge } from "prom-client";
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
  return registry;
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

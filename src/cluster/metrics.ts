import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { Socket } from "node:net";
import { Registry, Gauge } from "prom-client";
import { addEncoded, latencyHistogram, percentileMs } from "../stats/index.js";
import type { FnWindow } from "../stats/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { bearerCheck } from "../ingress/index.js";
import { ConnectionGate } from "../wire/index.js";
import type { ListenerCaps } from "../wire/index.js";
import type { StratusProcess } from "./process.js";

/**
 * Prometheus metrics of one process, read from its parts when scraped (nothing is counted twice
 * on the hot path): runs started/ok/failed/retried, runs in flight, executors, busy executors,
 * queued calls, completed invocations, cache hits/misses/keys/bytes.
 *
 * @example
 * ```ts
 * const text = await metricsRegistry(proc).metrics(); // what GET /metrics serves
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

/** Options of {@link serveMetrics}. */
export interface MetricsServerOptions {
  /** Port to listen on (0: any free port). */
  port: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** The cluster token: `/metrics` answers only `Authorization: Bearer <token>`. */
  token: string;
  /** Serve HTTPS with this PEM certificate and key (the cluster's), so the token never goes plain. */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Most connections open at once, and from one address: scrapers and probes need few, and the
   * descriptors come out of the process's reserve. @default { max: 32, perAddress: 16 }
   */
  connections?: ListenerCaps;
}

/**
 * Serves `GET /metrics` (Prometheus text format) to holders of the cluster token, as a bearer
 * token like the HTTP ingress (in Prometheus: `authorization: { credentials_file: … }`), and
 * `GET /healthz` (200, no data) to anyone, for liveness probes. Over HTTPS with `tls`. Silent
 * sockets are answered 408 and closed after 10 s. Resolves with the listening server.
 *
 * @example
 * ```ts
 * const server = await serveMetrics(proc, { port: 9464, token });
 * // curl -H "Authorization: Bearer $STRATUS_TOKEN" http://127.0.0.1:9464/metrics
 * ```
 */
export async function serveMetrics(
  proc: StratusProcess,
  options: MetricsServerOptions,
): Promise<Server> {
  if (typeof options.token !== "string" || options.token === "") {
    throw InvalidArgumentError.field("token", "the metrics server needs the cluster token");
  }
  const registry = metricsRegistry(proc);
  const authorized = bearerCheck(options.token);
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || (path !== "/metrics" && path !== "/healthz")) {
      res.writeHead(404).end();
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (!authorized(req.headers.authorization)) {
      res.writeHead(401, { "www-authenticate": 'Bearer realm="stratus"' }).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  };
  const timeouts = { headersTimeout: 10_000, connectionsCheckingInterval: 1000 };
  const server =
    options.tls === undefined
      ? createServer(timeouts, handle)
      : createTlsServer({ ...options.tls, ...timeouts, handshakeTimeout: 10_000 }, handle);
  const gate = new ConnectionGate(options.connections ?? { max: 32, perAddress: 16 });
  server.prependListener("connection", (socket: Socket) => gate.admit(socket));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

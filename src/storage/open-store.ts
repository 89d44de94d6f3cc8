import { InvalidArgumentError } from "../errors/index.js";
import { MemoryStore } from "./memory/memory-store.js";
import type { MemoryStoreOptions } from "./memory/memory-store.js";
import type { FsyncPolicy } from "./memory/append-log.js";
import { redactStoreAddress } from "./redact.js";
import { RedisStore } from "./redis/redis-store.js";
import type { RedisStoreOptions } from "./redis/redis-store.js";
import type { Store, StoreLimits } from "./store.js";

/** Which backend to open, as options. */
export type StoreOptions =
  ({ backend: "memory" } & MemoryStoreOptions) | ({ backend: "redis" } & RedisStoreOptions);

/**
 * Parses a store address:
 * - `memory:` — in-process, not durable;
 * - `memory:/var/lib/stratus.log?fsync=always|interval|never` — in-process with an append-only log;
 * - `redis://[:password@]host:port[/db]` — one Redis server;
 * - `rediss://[:password@]host:port[/db]` — one Redis server over TLS (a private CA is trusted
 *   through `tls.ca` in the options, or `NODE_EXTRA_CA_CERTS` for the CLI);
 * - `redis-cluster://host:port[,host:port...]` — a Redis Cluster (seed nodes).
 *
 * Redis addresses take `?prefix=name:` to keep several clusters' keys apart on one server
 * (default `stratus:`).
 */
export function parseStoreAddress(address: string, limits?: StoreLimits): StoreOptions {
  const lim = limits === undefined ? {} : { limits };
  if (address === "memory" || address === "memory:") return { backend: "memory", ...lim };
  if (address.startsWith("memory:")) {
    const rest = address.slice("memory:".length);
    const [path = "", query = ""] = rest.split("?", 2);
    const params = new URLSearchParams(query);
    const fsync = params.get("fsync") ?? "always";
    if (!["always", "interval", "never"].includes(fsync)) {
      throw InvalidArgumentError.field("fsync", `must be always, interval or never; got ${fsync}`);
    }
    return {
      backend: "memory",
      ...(path === "" ? {} : { logPath: path }),
      fsync: fsync as FsyncPolicy,
      ...lim,
    };
  }
  const [base = "", query] = address.split("?", 2);
  const prefix = new URLSearchParams(query ?? "").get("prefix");
  if (prefix !== null) Object.assign(lim, { keyPrefix: prefix });
  if (base.startsWith("redis://") || base.startsWith("rediss://")) {
    return { backend: "redis", url: base, ...lim };
  }
  if (base.startsWith("redis-cluster://")) {
    const nodes = base
      .slice("redis-cluster://".length)
      .split(",")
      .filter((s) => s.length > 0)
      .map((hp) => {
        const i = hp.lastIndexOf(":");
        const port = Number(hp.slice(i + 1));
        if (i <= 0 || !Number.isInteger(port)) {
          throw InvalidArgumentError.field(
            "store",
            `bad cluster node ${JSON.stringify(redactStoreAddress(hp))}`,
          );
        }
        return { host: hp.slice(0, i), port };
      });
    return { backend: "redis", cluster: nodes, ...lim };
  }
  throw InvalidArgumentError.field(
    "store",
    `unknown store address ${JSON.stringify(redactStoreAddress(address))}; use memory:, ` +
      "memory:/path/to/log, redis://host:port, rediss://host:port or redis-cluster://host:port,...",
  );
}

/**
 * Opens a store from an address or options.
 *
 * @example
 * ```ts
 * const store = await openStore("redis://127.0.0.1:6379");
 * const local = await openStore({ backend: "memory", logPath: "./stratus.log" });
 * ```
 */
export async function openStore(spec: string | StoreOptions): Promise<Store> {
  const o = typeof spec === "string" ? parseStoreAddress(spec) : spec;
  if (o.backend === "memory") return MemoryStore.open(o);
  return RedisStore.connect(o);
}

import {
  BadEncodingError,
  LatticeTypeMismatchError,
  StorageUnavailableError,
  StratusError,
  isStratusError,
} from "../../errors/index.js";

const UNAVAILABLE = [
  "Connection is closed",
  // A pipeline answered only in part when the connection dropped: ioredis aborts the rest, whose
  // outcome is unknown. Every Stratus write is a merge, so trying it again is safe.
  "Command aborted due to connection close",
  "connect ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "Stream isn't writeable",
  "isn't ready",
  "Reached the max retries",
  "Command timed out",
  "CLUSTERDOWN",
  "TRYAGAIN",
  "LOADING",
  "MASTERDOWN",
  "READONLY",
  "Too many Cluster redirections",
  // A cluster node that no longer serves the slot refused the command without running it: ioredis
  // follows these, but hands them back for an autopipelined batch split by a failover. A retry
  // goes where the refreshed slot map says.
  "MOVED ",
  "ASK ",
  "Failed to refresh slots cache",
  "None of startup nodes is available",
];

/** Turns an ioredis or script error into the StratusError a caller can act on. */
export function mapRedisError(e: unknown, key?: string): Error {
  if (isStratusError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.startsWith("LATTICE_TYPE_MISMATCH")) {
    // "LATTICE_TYPE_MISMATCH <stored> <incoming> <path inside a map, or empty>"
    const m = /^LATTICE_TYPE_MISMATCH (\S+) (\S+) ?(.*)$/s.exec(msg);
    const [, stored = "?", incoming = "?", path = ""] = m ?? [];
    const where = key === undefined ? undefined : key + path;
    return LatticeTypeMismatchError.of(stored, incoming, where);
  }
  if (msg.startsWith("BAD_ENCODING")) {
    return new BadEncodingError(`stored value is not a valid lattice: ${msg}`, { cause: e });
  }
  if (msg.startsWith("WRONGTYPE")) {
    return new BadEncodingError(
      `key ${JSON.stringify(key)} holds a Redis value that Stratus did not write (${msg})`,
      { cause: e },
    );
  }
  if (UNAVAILABLE.some((s) => msg.includes(s))) {
    return new StorageUnavailableError(`Redis unavailable: ${msg}`, { cause: e });
  }
  return new StratusError("INTERNAL", `Redis error: ${msg}`, { cause: e });
}

/**
 * Why connecting failed, named: ioredis reports the server's refusal (NOAUTH, WRONGPASS) or the
 * socket's (ECONNREFUSED, ETIMEDOUT) as an `error` event and then fails the connect with a bare
 * "Connection is closed", so the last event is the cause. `details.cause` is `authentication`,
 * `refused`, `timeout` or `unavailable`; an authentication failure is not retryable (the same
 * password fails the same way).
 */
export function connectError(e: unknown, last: Error | undefined, address: string): Error {
  const seen = [last?.message ?? "", e instanceof Error ? e.message : String(e)].join(" | ");
  const fail = (cause: string, message: string, retryable = true): StorageUnavailableError =>
    new StorageUnavailableError(message, { cause: last ?? e, retryable, details: { cause } });
  if (/NOAUTH/.test(seen)) {
    return fail(
      "authentication",
      `Redis at ${address} needs a password and none was given: set STRATUS_STORE_PASSWORD or pass --store-password-file`,
      false,
    );
  }
  if (/WRONGPASS|invalid password|invalid username-password/i.test(seen)) {
    return fail(
      "authentication",
      `Redis at ${address} refused the password (WRONGPASS): check STRATUS_STORE_PASSWORD or --store-password-file`,
      false,
    );
  }
  if (/ECONNREFUSED/.test(seen)) {
    return fail("refused", `Redis at ${address} refused the connection: is it running there?`);
  }
  if (/ETIMEDOUT|did not complete within|timed out/i.test(seen)) {
    return fail("timeout", `Redis at ${address} did not answer in time (${seen.slice(0, 200)})`);
  }
  const mapped = mapRedisError(e);
  return isStratusError(mapped) && mapped.code === "STORAGE_UNAVAILABLE"
    ? fail("unavailable", `Redis at ${address} is unavailable: ${seen.slice(0, 300)}`)
    : mapped;
}

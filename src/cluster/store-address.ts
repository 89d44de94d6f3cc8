/**
 * Store addresses with and without their password. A store address may carry one
 * (`redis://:secret@host:6379`), but no reply and no log line may: what leaves a process is the
 * address without it, and each process that opens the store brings the password itself.
 */
import { InvalidArgumentError } from "../errors/index.js";

/** An address split at its credentials; `password` as written (percent-encoded, if it was). */
interface Parts {
  scheme: string;
  user: string;
  password: string | undefined;
  rest: string;
}

function split(address: string): Parts | undefined {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(address);
  if (m === null) return undefined;
  const [, scheme = "", body = ""] = m;
  // Hosts never hold "@": the last one before the query ends the credentials, even when an
  // unencoded password contains "/" or "@".
  const query = body.indexOf("?");
  const at = body.lastIndexOf("@", query < 0 ? body.length : query);
  if (at < 0) return { scheme, user: "", password: undefined, rest: body };
  const info = body.slice(0, at);
  const colon = info.indexOf(":");
  return {
    scheme,
    user: colon < 0 ? info : info.slice(0, colon),
    password: colon < 0 ? undefined : info.slice(colon + 1),
    rest: body.slice(at + 1),
  };
}

/**
 * The address without its password (a user name stays: it is not a secret), and the password it
 * carried, if any.
 *
 * @example
 * ```ts
 * withoutStorePassword("redis://:s3cret@10.0.0.5:6379?prefix=a:");
 * // { address: "redis://10.0.0.5:6379?prefix=a:", password: "s3cret" }
 * ```
 */
export function withoutStorePassword(address: string): {
  address: string;
  password: string | undefined;
} {
  const p = split(address);
  if (p === undefined || p.password === undefined) return { address, password: undefined };
  const user = p.user === "" ? "" : `${p.user}@`;
  return { address: `${p.scheme}${user}${p.rest}`, password: p.password };
}

/**
 * Puts a password into a `redis://` (or `rediss://`) address that has none.
 *
 * @example
 * ```ts
 * withStorePassword("redis://10.0.0.5:6379", "s3cret"); // "redis://:s3cret@10.0.0.5:6379"
 * ```
 */
export function withStorePassword(address: string, password: string): string {
  const p = split(address);
  if (p === undefined || !/^rediss?:\/\/$/i.test(p.scheme)) {
    throw InvalidArgumentError.field(
      "store password",
      `only redis:// store addresses take a password here, not ${address.split(":")[0] ?? ""}:`,
    );
  }
  if (p.password !== undefined) {
    throw InvalidArgumentError.field(
      "store password",
      "the store address already carries a password; give it in one place only",
    );
  }
  return `${p.scheme}${p.user}:${encodeURIComponent(password)}@${p.rest}`;
}

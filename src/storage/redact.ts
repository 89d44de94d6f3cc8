/**
 * A store address fit for messages and logs: the credentials of `redis://user:pass@host` (or
 * `rediss://`, or a malformed variant) are replaced by `***`. Every error the storage layer raises
 * about an address goes through this, so no reply or log line carries a store password.
 *
 * @example
 * ```ts
 * redactStoreAddress("redis://:s3cret@10.0.0.5:6379/0"); // "redis://***@10.0.0.5:6379/0"
 * ```
 */
export function redactStoreAddress(address: string): string {
  // Everything between the scheme and the last "@" of the authority is credentials (a password
  // may itself hold an unescaped "@"); all of it is hidden, since `redis://secret@host` puts the
  // password where a user name would be.
  return address.replace(/^([a-z+-]*:\/*)?([^/]*)@/i, (_m, scheme: string | undefined) => {
    return `${scheme ?? ""}***@`;
  });
}

/**
 * Unique ids without a random draw per id: a random per-process prefix and a counter.
 *
 * The prefix is drawn on first use, through the global Web Crypto object, so that importing
 * this folder does not load `node:crypto`: every executor worker imports it (for `ctx.txn`),
 * and loading that module cost ~4 ms of each worker's boot while most functions never start a
 * transaction.
 */

/**
 * Returns a function that makes ids `<tag><random prefix><counter>`, the prefix `bytes` random
 * bytes (base64url) drawn on the first call.
 *
 * @example
 * ```ts
 * const newId = idMaker("t", 12);
 * newId(); // "tq3…Xa0", then "tq3…Xa1", …
 * ```
 */
export function idMaker(tag: string, bytes: number): () => string {
  let prefix: string | undefined;
  let counter = 0;
  return () => {
    prefix ??=
      tag +
      Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
    return prefix + (counter++).toString(36);
  };
}

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * A check of `Authorization: Bearer <token>` headers against the cluster token, in constant time:
 * both sides are hashed first, so the comparison's time says nothing about the token, not even
 * its length.
 *
 * @example
 * ```ts
 * const authorized = bearerCheck("secret");
 * authorized(req.headers.authorization); // true for "Bearer secret"
 * ```
 */
export function bearerCheck(token: string): (header: string | undefined) => boolean {
  const want = digest(token);
  return (header) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    return m?.[1] !== undefined && timingSafeEqual(want, digest(m[1]));
  };
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** Name of the dashboard's session cookie. */
export const COOKIE = "stratus_dashboard";

/**
 * Stateless dashboard sessions: a cookie `<expiry>.<mac>` where mac = HMAC(token, expiry). Any
 * scheduler holding the token checks it without shared session state (schedulers sit behind one
 * Service), the cookie never carries the token itself, and changing the token ends every session.
 */
export class Sessions {
  constructor(
    private readonly token: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `given` is the cluster token (constant time). */
  isToken(given: string): boolean {
    return timingSafeEqual(digest(given), digest(this.token));
  }

  /** A fresh cookie value. */
  issue(): string {
    const expires = this.now() + this.ttlMs;
    return `${expires}.${this.mac(expires)}`;
  }

  /** Whether a cookie value is one this token issued and has not expired. */
  valid(value: string | undefined): boolean {
    if (value === undefined) return false;
    const m = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(value);
    if (m === null) return false;
    const expires = Number(m[1]);
    if (!(expires > this.now())) return false;
    return timingSafeEqual(
      Buffer.from(m[2] as string, "hex"),
      Buffer.from(this.mac(expires), "hex"),
    );
  }

  private mac(expires: number): string {
    return createHmac("sha256", this.token).update(`stratus-dashboard:${expires}`).digest("hex");
  }
}

/** The value of one cookie from a `Cookie` header. */
export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

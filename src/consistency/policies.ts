import { InvalidArgumentError } from "../errors/index.js";
import type { Consistency } from "../protocol/index.js";
import { LwwPolicy } from "./lww.js";
import type { SessionEnv, SessionPolicy, SessionPolicyFactory } from "./session.js";

/**
 * The session policies of one node, by level: always `lww`, plus what the composition root
 * passes. A run at a level this node does not offer fails with `INVALID_ARGUMENT`, not a crash.
 *
 * @example
 * ```ts
 * const policies = new SessionPolicies(env, []);
 * policies.for("lww").open(meta);
 * ```
 */
export class SessionPolicies {
  private readonly byLevel = new Map<Consistency, SessionPolicy>();

  constructor(env: SessionEnv, factories: readonly SessionPolicyFactory[] = []) {
    this.byLevel.set("lww", new LwwPolicy(env));
    for (const f of factories) {
      const p = f(env);
      this.byLevel.set(p.level, p);
    }
  }

  for(level: Consistency): SessionPolicy {
    const p = this.byLevel.get(level);
    if (p === undefined) {
      throw new InvalidArgumentError(`consistency ${level} is not offered by this node`);
    }
    return p;
  }

  /** Hands a message from another node to the policies that serve one; null when none does. */
  async handle(method: string, payload: unknown): Promise<unknown> {
    for (const p of this.byLevel.values()) {
      const r = await p.handle?.(method, payload);
      if (r !== undefined) return r;
    }
    return null;
  }

  async close(): Promise<void> {
    for (const p of this.byLevel.values()) await p.close?.();
  }
}

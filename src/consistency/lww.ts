import type { RunMeta } from "../protocol/index.js";
import type { ReadValue, UserState } from "../state/index.js";
import type { RunSession, SessionEnv, SessionPolicy } from "./session.js";

/**
 * Last writer wins, read your cache: every read is the node cache's current value and every
 * write goes straight to storage. Runs carry no metadata of their own.
 *
 * @example
 * ```ts
 * const lww = new LwwPolicy(env);
 * await lww.open(meta).get("k");
 * ```
 */
export class LwwPolicy implements SessionPolicy {
  readonly level = "lww" as const;
  private readonly state: UserState;

  constructor(env: Pick<SessionEnv, "state">) {
    this.state = env.state;
  }

  open(meta: RunMeta): RunSession {
    return new LwwSession(this.state, meta);
  }

  join(metas: RunMeta[]): RunMeta {
    return metas[0] as RunMeta;
  }
}

class LwwSession implements RunSession {
  constructor(
    private readonly state: UserState,
    private readonly meta: RunMeta,
  ) {}

  get(key: unknown): Promise<ReadValue | undefined> {
    return this.state.read(key);
  }

  getLattice(key: unknown): Promise<Uint8Array | undefined> {
    return this.state.readLattice(key);
  }

  async put(key: unknown, value: Uint8Array): Promise<void> {
    await this.state.put(key, value);
  }

  async merge(key: unknown, lattice: Uint8Array): Promise<void> {
    await this.state.merge(key, lattice);
  }

  delete(key: unknown): Promise<void> {
    return this.state.delete(key);
  }

  forward(): RunMeta {
    return this.meta;
  }

  async finish(): Promise<void> {}
}

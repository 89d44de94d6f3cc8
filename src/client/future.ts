import { fromWireError } from "../errors/index.js";
import type { WireError } from "../errors/index.js";
import { decodeValue } from "../lattice/index.js";

/** A future's outcome as it arrives. */
export interface Outcome {
  ok: boolean;
  v?: Uint8Array;
  e?: WireError;
}

/**
 * The result of a run that will arrive later. The sink stores it and the gateway pushes it to
 * the client that started the run, so `get()` waits without polling; any client can also ask
 * for a future by id (`cloud.future(id)`).
 *
 * @example
 * ```ts
 * const fut = await cloud.callDag("pipeline", { inc: [1] }, { future: true });
 * await fut.get(); // 4
 * ```
 */
export class Future<T = unknown> {
  private readonly outcome: Promise<Outcome>;

  constructor(
    /** Stable id: pass it to `cloud.future(id)` from anywhere. */
    readonly id: string,
    outcome: Promise<Outcome>,
    private readonly remove: (id: string) => Promise<void> = () => Promise.resolve(),
  ) {
    this.outcome = outcome;
    // Nobody may ever call get(); an unobserved failure must not crash the process.
    outcome.catch(() => undefined);
  }

  /**
   * Deletes the stored result now, rather than when it expires (after the cluster's retention,
   * an hour by default). Later `cloud.future(id)` reads of it wait and time out.
   */
  delete(): Promise<void> {
    return this.remove(this.id);
  }

  /** The run's result, or its error (same codes as a direct call). */
  async get(): Promise<T> {
    const o = await this.outcome;
    if (!o.ok) throw fromWireError(o.e);
    return decodeValue<T>(o.v ?? new Uint8Array(0));
  }
}

import { LwwLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Store } from "../storage/index.js";

/** Where the monitor's lease lives. */
export const LEASE_KEY = "sys/monitor/lease";

interface LeaseValue {
  holder: string;
  /** Wall-clock ms until which the holder counts on it. */
  until: number;
}

/**
 * A lease in the store that at most one holder has at a time: taken with `putIfAbsent`, kept by
 * renewing before it expires (`expire`), and taken over by anyone once its holder stops renewing.
 *
 * A renewal reads the lease, then rewrites it: if the holder stalled long enough for the lease to
 * expire between the two (a pause of most of `ttlMs`), another holder's fresh lease could be
 * overwritten and both act for one round, until the next renewal shows each who holds it. A
 * holder that died between `putIfAbsent` and `expire` leaves a lease with no expiry: one whose
 * `until` is `ttlMs` in the past is deleted by whoever finds it.
 *
 * @example
 * ```ts
 * const lease = new Lease(store, clock, "sched-1", 3000);
 * if (await lease.hold()) act(); // call every round, well within ttlMs
 * ```
 */
export class Lease {
  private heldUntil = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: HybridClock,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly key = LEASE_KEY,
  ) {}

  /** True while a renewal that succeeded still covers now. */
  get held(): boolean {
    return performance.now() < this.heldUntil;
  }

  /** Takes or renews the lease; true when this holder has it now. Never throws. */
  async hold(): Promise<boolean> {
    const started = performance.now();
    try {
      const cur = await this.store.get(this.key);
      const v = cur instanceof LwwLattice ? leaseValue(cur) : undefined;
      const fresh = (): LwwLattice => {
        const value: LeaseValue = { holder: this.holder, until: Date.now() + this.ttlMs };
        return LwwLattice.of(value, this.clock.now());
      };
      if (cur === undefined) {
        if (!(await this.store.putIfAbsent(this.key, fresh()))) return this.lost();
      } else if (v?.holder === this.holder) {
        await this.store.put(this.key, fresh());
      } else {
        // Someone else's, or junk; a lease whose expiry was never set is cleared once stale.
        if (v === undefined || v.until + this.ttlMs < Date.now()) {
          await this.store.delete(this.key);
        }
        return this.lost();
      }
      await this.store.expire(this.key, this.ttlMs);
      this.heldUntil = started + this.ttlMs;
      return true;
    } catch {
      // Storage unavailable: keep what a past renewal still covers, but never more.
      return this.held;
    }
  }

  private lost(): false {
    this.heldUntil = 0;
    return false;
  }

  /** Gives the lease up (deletes it if this holder has it), so another monitor takes over at once. */
  async release(): Promise<void> {
    const had = this.heldUntil > 0;
    this.heldUntil = 0;
    if (!had) return;
    try {
      const cur = await this.store.get(this.key);
      if (cur instanceof LwwLattice && leaseValue(cur)?.holder === this.holder) {
        await this.store.delete(this.key);
      }
    } catch {
      // It expires on its own.
    }
  }
}

function leaseValue(l: LwwLattice): LeaseValue | undefined {
  try {
    const v = l.value<unknown>();
    if (typeof v !== "object" || v === null) return undefined;
    const holder = Object.hasOwn(v, "holder") ? (v as LeaseValue).holder : undefined;
    const until = Object.hasOwn(v, "until") ? (v as LeaseValue).until : undefined;
    if (typeof holder !== "string" || typeof until !== "number") return undefined;
    return { holder, until };
  } catch {
    return undefined;
  }
}

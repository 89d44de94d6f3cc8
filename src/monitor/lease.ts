import { LwwLattice } from "../lattice/index.js";
import type { HybridClock, Timestamp } from "../lattice/index.js";
import type { Store } from "../storage/index.js";

/** Where the monitor's lease lives. */
export const LEASE_KEY = "sys/monitor/lease";

interface LeaseValue {
  holder: string;
}

/**
 * A lease in the store that at most one holder has at a time: taken with `putIfAbsent`, kept by
 * renewing before it expires (`expire`), and taken over by anyone once its holder stops renewing.
 *
 * A renewal reads the lease, then rewrites it: if the holder stalled long enough for the lease to
 * expire between the two (a pause of most of `ttlMs`), another holder's fresh lease could be
 * overwritten and both act for one round, until the next renewal shows each who holds it. A
 * holder that died between `putIfAbsent` and `expire` leaves a lease with no expiry: one that
 * stays exactly as it was for `2 × ttlMs` of the finder's own (monotonic) clock is deleted by it.
 *
 * Nothing here compares another host's wall clock with this one's: the store's expiry ends a
 * lease that is not renewed, and a renewal rewrites the lease, which others see as a change.
 *
 * @example
 * ```ts
 * const lease = new Lease(store, clock, "sched-1", 3000);
 * if (await lease.hold()) act(); // call every round, well within ttlMs
 * ```
 */
export class Lease {
  private heldUntil = 0;
  /** Someone else's lease as last seen (its write's timestamp), and since when, locally. */
  private seen: { ts: Timestamp; since: number } | undefined;

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
        const value: LeaseValue = { holder: this.holder };
        return LwwLattice.of(value, this.clock.now());
      };
      if (cur === undefined) {
        if (!(await this.store.putIfAbsent(this.key, fresh()))) return this.lost();
      } else if (v?.holder === this.holder) {
        await this.store.put(this.key, fresh());
      } else {
        // Someone else's, or junk; a lease whose expiry was never set is cleared once stale.
        if (v === undefined || this.stuck((cur as LwwLattice).ts, started)) {
          this.seen = undefined;
          await this.store.delete(this.key);
        }
        return this.lost();
      }
      this.seen = undefined;
      await this.store.expire(this.key, this.ttlMs);
      this.heldUntil = started + this.ttlMs;
      return true;
    } catch {
      // Storage unavailable: keep what a past renewal still covers, but never more.
      return this.held;
    }
  }

  /**
   * Whether another holder's lease, written at `ts`, has stayed unchanged for `2 × ttlMs` by
   * this process's clock: its holder stopped renewing, and the store did not expire it.
   */
  private stuck(ts: Timestamp, now: number): boolean {
    if (this.seen?.ts !== ts) {
      this.seen = { ts, since: now };
      return false;
    }
    return now - this.seen.since > 2 * this.ttlMs;
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
    // Leases written by earlier versions also carry the holder's wall-clock `until`: unread.
    const holder = Object.hasOwn(v, "holder") ? (v as LeaseValue).holder : undefined;
    if (typeof holder !== "string") return undefined;
    return { holder };
  } catch {
    return undefined;
  }
}

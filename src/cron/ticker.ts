import type { Cron } from "croner";
import { InvalidArgumentError, isStratusError } from "../errors/index.js";
import { LwwLattice, encodeValue } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import { nameMap } from "../protocol/index.js";
import { singleFunctionDag } from "../scheduler/index.js";
import type { Dispatcher, Registry, RunRequest, RunStarter } from "../scheduler/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { SCHEDULE_PREFIX, parseCron } from "./book.js";
import type { ScheduleBook, ScheduleDef } from "./book.js";

/** Where tick claims live: `sys/tick/<schedule>/<tick epoch ms>`. */
export const TICK_PREFIX = "sys/tick/";

/** setTimeout's longest delay; a farther tick is re-planned when this one ends. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options of {@link Ticker}. */
export interface TickerOptions {
  /** This scheduler's id, written into the claims it wins. */
  id: string;
  store: Store;
  clock: HybridClock;
  book: ScheduleBook;
  registry: Registry;
  dispatcher: Dispatcher;
  /**
   * Starts runs at their level: a tick of a read-atomic DAG is one transaction named after the
   * schedule and the tick, so it commits once even when it is relaunched after a node loss or
   * fired twice. Without it runs go straight to the dispatcher.
   */
  runs?: RunStarter;
  /** Receives failed runs and storage errors; the ticker never throws. @default ignore */
  log?: (message: string) => void;
  /**
   * How long a tick's claim is kept. It must outlast the spread of schedulers' clocks plus their
   * timer lateness, or a late scheduler could claim a tick again. @default 600000 (10 minutes)
   */
  claimTtlMs?: number;
  /**
   * A tick found this late (a blocked event loop, a suspended host) is skipped instead of run.
   * @default 60000
   */
  maxLateMs?: number;
}

/** The extra trailing argument every scheduled call receives. */
export interface TickInfo {
  schedule: string;
  /** The tick's time, epoch milliseconds (UTC): the same on every scheduler. */
  tick: number;
}

interface Plan {
  def: ScheduleDef;
  cron: Cron;
  timer?: NodeJS.Timeout;
}

/**
 * Runs schedules' ticks. Every scheduler runs one; for each due tick each of them races to claim
 * `sys/tick/<name>/<tick>` with `putIfAbsent`, and only the winner runs the call, so a tick fires
 * once cluster-wide however many schedulers are up. Ticks that fall while no scheduler runs are
 * skipped, never replayed. A run's failure is logged and counted; it never stops the ticker.
 *
 * @example
 * ```ts
 * const ticker = await Ticker.start({ id, store, clock, book, registry, dispatcher });
 * ticker.counts; // { won, lost, ok, failed, skipped, errors }
 * await ticker.close();
 * ```
 */
export class Ticker {
  private readonly plans = new Map<string, Plan>();
  private sub: Subscription | undefined;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly claimTtlMs: number;
  private readonly maxLateMs: number;
  /**
   * Since start: ticks this scheduler claimed or saw claimed by another, runs' outcomes, late
   * ticks skipped, and storage errors.
   */
  readonly counts = { won: 0, lost: 0, ok: 0, failed: 0, skipped: 0, errors: 0 };

  private constructor(private readonly o: TickerOptions) {
    this.claimTtlMs = positive("claimTtlMs", o.claimTtlMs, 600_000);
    this.maxLateMs = positive("maxLateMs", o.maxLateMs, 60_000);
  }

  static async start(o: TickerOptions): Promise<Ticker> {
    const t = new Ticker(o);
    t.sub = await o.store.subscribe(SCHEDULE_PREFIX, (e) => {
      if (e.kind === "reset") t.track(t.reloadAll());
      else t.track(t.reload(e.key.slice(SCHEDULE_PREFIX.length)));
    });
    await t.reloadAll();
    return t;
  }

  /** Resolves once every tick being claimed or run has finished. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private track(p: Promise<void>): void {
    const q = p.catch((e: unknown) => {
      // Storage errors while reading a schedule or claiming a tick: that tick is lost, not the ticker.
      this.counts.errors++;
      this.log(`schedules: ${String(e)}`);
    });
    this.inFlight.add(q);
    void q.finally(() => this.inFlight.delete(q));
  }

  private async reloadAll(): Promise<void> {
    const names = new Set(this.plans.keys());
    for await (const k of this.o.store.scan(SCHEDULE_PREFIX)) {
      names.add(k.slice(SCHEDULE_PREFIX.length));
    }
    await Promise.all([...names].map((n) => this.reload(n)));
  }

  private async reload(name: string): Promise<void> {
    const def = await this.o.book.get(name);
    if (this.closed) return;
    const cur = this.plans.get(name);
    if (def?.id === cur?.def.id) return;
    clearTimeout(cur?.timer);
    this.plans.delete(name);
    if (def === undefined) return;
    let cron: Cron;
    try {
      cron = parseCron(def.cron);
    } catch (e) {
      this.log(`schedule ${name}: ${(e as Error).message}`);
      return;
    }
    const plan: Plan = { def, cron };
    this.plans.set(name, plan);
    this.plan(plan, Date.now());
  }

  /** Sets the timer for the first tick strictly after `after`. */
  private plan(p: Plan, after: number): void {
    const next = p.cron.nextRun(new Date(after))?.getTime();
    if (next === undefined || this.closed) return;
    const delay = next - Date.now();
    p.timer = setTimeout(
      () => {
        if (this.plans.get(p.def.name) !== p) return;
        if (delay > MAX_TIMER_MS) return this.plan(p, after);
        const late = Date.now() - next;
        // Plan the next tick from this one, not from now, so a timer that fired a little early
        // or late neither repeats nor skips a tick.
        if (late > this.maxLateMs) {
          this.counts.skipped++;
          this.plan(p, Date.now());
        } else {
          this.plan(p, next);
          this.track(this.fire(p.def, next));
        }
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
  }

  private async fire(def: ScheduleDef, tick: number): Promise<void> {
    // Read again: a schedule removed or replaced after this timer was set must not run.
    const now = await this.o.book.get(def.name);
    if (now?.id !== def.id) return;
    const key = `${TICK_PREFIX}${def.name}/${tick}`;
    const claim = LwwLattice.of({ by: this.o.id }, this.o.clock.now());
    if (!(await this.o.store.putIfAbsent(key, claim))) {
      this.counts.lost++;
      return;
    }
    this.counts.won++;
    await this.o.store.expire(key, this.claimTtlMs);
    try {
      const req = await this.request(def, tick);
      if (this.o.runs !== undefined) {
        await this.o.runs.run(req, { requestId: `tick-${def.name}-${tick}` });
      } else await this.o.dispatcher.run(req);
      this.counts.ok++;
      await this.note(def.name, tick);
    } catch (e) {
      this.counts.failed++;
      if (!this.closed)
        this.log(`schedule ${def.name}, tick ${new Date(tick).toISOString()}: ${String(e)}`);
      const err = e instanceof Error ? e : new Error(String(e));
      const code = isStratusError(err) ? err.code : "INTERNAL";
      await this.note(def.name, tick, { code, message: err.message.slice(0, 500) });
    }
  }

  /** Notes a tick's outcome for the dashboard; a failure to note it is only counted. */
  private async note(name: string, tick: number, error?: { code: string; message: string }) {
    try {
      await this.o.book.noteTick(name, tick, error);
    } catch {
      this.counts.errors++;
    }
  }

  private async request(def: ScheduleDef, tick: number): Promise<RunRequest> {
    const extra = encodeValue({ schedule: def.name, tick } satisfies TickInfo);
    if (def.fn !== undefined) {
      return { def: singleFunctionDag(def.fn), inputs: { [def.fn]: [...(def.args ?? []), extra] } };
    }
    const dag = await this.o.registry.dag(def.dag ?? "");
    const inputs = nameMap<Uint8Array[]>();
    for (const [f, args] of Object.entries(def.inputs ?? {})) inputs[f] = [...args, extra];
    return { def: dag, inputs };
  }

  private log(msg: string): void {
    this.o.log?.(msg);
  }

  /** Stops every timer and waits for ticks in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.plans.values()) clearTimeout(p.timer);
    this.plans.clear();
    await this.sub?.close();
    await this.settled();
  }
}

function positive(field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) {
    throw InvalidArgumentError.field(field, "must be a positive number of milliseconds");
  }
  return v;
}

import { randomUUID } from "node:crypto";
import { Cron } from "croner";
import { InvalidArgumentError } from "../errors/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Registry, ScheduleAdmin, ScheduleInfo } from "../scheduler/index.js";
import type { Store } from "../storage/index.js";

/** Where schedules live in the store: one last-writer-wins value per schedule name. */
export const SCHEDULE_PREFIX = "sys/sched/";

/** A stored schedule. `id` changes on every `put`, so a replaced schedule's pending tick is dropped. */
export interface ScheduleDef {
  name: string;
  cron: string;
  id: string;
  fn?: string;
  args?: Uint8Array[];
  dag?: string;
  inputs?: Record<string, Uint8Array[]>;
}

/** Where each schedule's last tick is noted: one last-writer-wins value per schedule name. */
export const SCHEDULE_STATUS_PREFIX = "sys/schedst/";

/** What the last ticks of a schedule did, as the schedulers that fired them noted. */
export interface ScheduleStatus {
  /** The last tick fired (epoch ms, UTC), when it finished, and whether its run returned. */
  tick: number;
  at: number;
  ok: boolean;
  /** Failed ticks noted since the schedule was made. */
  failures: number;
  /** The last failure: its tick, error code and message. */
  lastError?: { tick: number; code: string; message: string };
}

const NAME = /^[A-Za-z_$.-][\w$.-]{0,127}$/;

/**
 * Parses a cron expression: five fields, or six with seconds first (`* * * * * *` is every
 * second). Ticks are computed in UTC so that every scheduler, whatever its host's time zone,
 * agrees on them.
 *
 * @throws InvalidArgumentError naming the expression when croner refuses it.
 * @example
 * ```ts
 * parseCron("*\/5 * * * * *").nextRun(new Date(0)); // 1970-01-01T00:00:05Z
 * ```
 */
export function parseCron(expr: string): Cron {
  try {
    return new Cron(expr, { paused: true, timezone: "Etc/UTC" });
  } catch (e) {
    throw new InvalidArgumentError(
      `cron expression ${JSON.stringify(expr)} is invalid: ${(e as Error).message}`,
      { details: { field: "cron" } },
    );
  }
}

/** Options of {@link ScheduleBook}. */
export interface ScheduleBookOptions {
  store: Store;
  clock: HybridClock;
  /** Checks that a schedule's function or DAG exists when it is made. */
  registry: Registry;
}

/**
 * Schedules' definitions in the store: the gateway's `schedule`, `unschedule` and `schedules`
 * requests land here, and every scheduler's {@link Ticker} reads them back.
 *
 * @example
 * ```ts
 * const book = new ScheduleBook({ store, clock, registry });
 * await book.put({ name: "nightly", cron: "0 0 3 * * *", fn: "compact", args: [] });
 * await book.remove("nightly"); // true
 * ```
 */
export class ScheduleBook implements ScheduleAdmin {
  constructor(private readonly o: ScheduleBookOptions) {}

  /** Validates and stores a schedule, replacing one of the same name. */
  async put(p: Record<string, unknown>): Promise<ScheduleInfo> {
    const name = scheduleName(p.name);
    if (typeof p.cron !== "string") throw InvalidArgumentError.field("cron", "must be a string");
    const cron = parseCron(p.cron);
    const hasFn = typeof p.fn === "string";
    const hasDag = typeof p.dag === "string";
    if (hasFn === hasDag) {
      throw new InvalidArgumentError(`schedule ${name}: give exactly one of fn and dag`);
    }
    if (hasFn && p.inputs !== undefined) {
      throw InvalidArgumentError.field("inputs", "belongs to a dag schedule; use args with fn");
    }
    if (hasDag && p.args !== undefined) {
      throw InvalidArgumentError.field("args", "belongs to a fn schedule; use inputs with dag");
    }
    const def: ScheduleDef = { name, cron: p.cron, id: randomUUID() };
    if (hasFn) {
      // Refused now rather than failing at every tick: NO_SUCH_FUNCTION / NO_SUCH_DAG.
      def.fn = (await this.o.registry.fn(p.fn as string)).name;
      def.args = (p.args as Uint8Array[] | undefined) ?? [];
    } else {
      def.dag = (await this.o.registry.dag(p.dag as string)).name;
      def.inputs = (p.inputs as Record<string, Uint8Array[]> | undefined) ?? {};
    }
    await this.o.store.put(SCHEDULE_PREFIX + name, LwwLattice.of(def, this.o.clock.now()));
    return info(def, cron);
  }

  /** Deletes a schedule; false when there was none. Ticks not yet claimed will not run. */
  async remove(rawName: unknown): Promise<boolean> {
    const name = scheduleName(rawName);
    const key = SCHEDULE_PREFIX + name;
    const had = (await this.o.store.get(key)) !== undefined;
    await this.o.store.delete(key);
    await this.o.store.delete(SCHEDULE_STATUS_PREFIX + name);
    return had;
  }

  /**
   * Notes a fired tick's outcome. Only the scheduler that claimed a tick fires it, so writers of
   * one schedule's status rarely race; a lost race costs one tick's note, never the schedule.
   */
  async noteTick(
    name: string,
    tick: number,
    error?: { code: string; message: string },
  ): Promise<void> {
    const key = SCHEDULE_STATUS_PREFIX + name;
    const prev = (await this.statuses([name]))[0];
    const status: ScheduleStatus = {
      tick,
      at: Date.now(),
      ok: error === undefined,
      failures: (prev?.failures ?? 0) + (error === undefined ? 0 : 1),
    };
    const last = error === undefined ? prev?.lastError : { tick, ...error };
    if (last !== undefined) status.lastError = last;
    await this.o.store.put(key, LwwLattice.of(status, this.o.clock.now()));
  }

  /** The noted status of each named schedule (undefined for one that has not ticked yet). */
  async statuses(names: readonly string[]): Promise<(ScheduleStatus | undefined)[]> {
    if (names.length === 0) return [];
    const ls = await this.o.store.getMany(names.map((n) => SCHEDULE_STATUS_PREFIX + n));
    return ls.map((l) => (l?.kind === "lww" ? l.value<ScheduleStatus>() : undefined));
  }

  /** Every schedule, by name, with its next tick. */
  async list(): Promise<ScheduleInfo[]> {
    const keys: string[] = [];
    for await (const k of this.o.store.scan(SCHEDULE_PREFIX)) keys.push(k);
    const defs = (await this.o.store.getMany(keys)).flatMap((l) =>
      l?.kind === "lww" ? [l.value<ScheduleDef>()] : [],
    );
    return defs.map((d) => info(d, tryParse(d.cron))).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One stored schedule, read from the store (not from a cache). */
  async get(name: string): Promise<ScheduleDef | undefined> {
    const l = await this.o.store.get(SCHEDULE_PREFIX + name);
    if (l?.kind !== "lww") return undefined;
    this.o.clock.observe(l.ts);
    return l.value<ScheduleDef>();
  }
}

function scheduleName(v: unknown): string {
  if (typeof v !== "string" || !NAME.test(v)) {
    throw InvalidArgumentError.field(
      "name",
      `schedule name ${JSON.stringify(v)} is invalid: use letters, digits, _ $ . - (at most 128, not starting with a digit)`,
    );
  }
  return v;
}

/** A stored expression a newer parser refuses must not make the whole list fail. */
function tryParse(expr: string): Cron | undefined {
  try {
    return parseCron(expr);
  } catch {
    return undefined;
  }
}

function info(d: ScheduleDef, cron: Cron | undefined): ScheduleInfo {
  const next = cron?.nextRun()?.getTime() ?? null;
  return d.fn !== undefined
    ? { name: d.name, cron: d.cron, fn: d.fn, next }
    : { name: d.name, cron: d.cron, dag: d.dag ?? "", next };
}

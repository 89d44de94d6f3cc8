import type { FnWindow, StatsRecord } from "./record.js";
import { OTHER_FUNCTIONS } from "./recorder.js";

/** Counts since start of one function or run name: calls, errors, DAG-stage calls. */
export interface Totals {
  c: number;
  e: number;
  d: number;
}

interface Seen {
  exec: Map<string, Totals>;
  callers: Map<string, Totals>;
}

/** Options of {@link DepartedTotals}. */
export interface DepartedTotalsOptions {
  /** Names kept with a floor of their own; the counts of further names go to `(other)`. @default 10000 */
  maxNames?: number;
}

/**
 * Keeps the counts of processes whose statistics records went away, so cluster totals never go
 * backwards. Each process publishes counts since its own start, and its record expires from the
 * store when it dies (or is deleted when it stops): summing the live records alone made 400 calls
 * read as 300 once a node died. This remembers each live process's last counts; when its record
 * disappears, or its counts drop (it restarted under the same id), the last counts are folded
 * into a floor per name that later reads add back.
 *
 * It lives in the reading process's memory: a reader started after a node died never saw that
 * node's counts. Memory is bounded by the live processes and `maxNames`.
 *
 * @example
 * ```ts
 * const departed = new DepartedTotals();
 * const stats = await readClusterStats(store, { departed }); // every read updates it
 * ```
 */
export class DepartedTotals {
  private readonly seen = new Map<string, Seen>();
  private readonly exec = new Map<string, Totals>();
  private readonly callers = new Map<string, Totals>();
  private readonly maxNames: number;

  constructor(options: DepartedTotalsOptions = {}) {
    this.maxNames = options.maxNames ?? 10_000;
  }

  /** Takes the records of one read: every record present now, by process id. */
  update(records: readonly StatsRecord[]): void {
    const present = new Set<string>();
    for (const rec of records) {
      present.add(rec.id);
      const now: Seen = { exec: counts(rec.exec), callers: counts(rec.callers) };
      const before = this.seen.get(rec.id);
      if (
        before !== undefined &&
        (dropped(before.exec, now.exec) || dropped(before.callers, now.callers))
      ) {
        this.fold(before);
      }
      this.seen.set(rec.id, now);
    }
    for (const [id, s] of this.seen) {
      if (present.has(id)) continue;
      this.fold(s);
      this.seen.delete(id);
    }
  }

  /** Invocation counts of departed processes, by function. */
  execFloor(): ReadonlyMap<string, Totals> {
    return this.exec;
  }

  /** Run counts of departed schedulers, by DAG name (a single call's is its function's). */
  callersFloor(): ReadonlyMap<string, Totals> {
    return this.callers;
  }

  private fold(s: Seen): void {
    add(this.exec, s.exec, this.maxNames);
    add(this.callers, s.callers, this.maxNames);
  }
}

function counts(fns: Record<string, FnWindow> | undefined): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const [name, w] of Object.entries(fns ?? {})) out.set(name, { c: w.c, e: w.e, d: w.d ?? 0 });
  return out;
}

/** Whether any count went down: the process started again, counting from zero. */
function dropped(before: Map<string, Totals>, now: Map<string, Totals>): boolean {
  for (const [name, b] of before) {
    const n = now.get(name);
    if (n === undefined || n.c < b.c || n.e < b.e || n.d < b.d) return true;
  }
  return false;
}

function add(into: Map<string, Totals>, from: Map<string, Totals>, maxNames: number): void {
  for (const [name, t] of from) {
    const key = into.has(name) || into.size < maxNames - 1 ? name : OTHER_FUNCTIONS;
    const f = into.get(key) ?? { c: 0, e: 0, d: 0 };
    f.c += t.c;
    f.e += t.e;
    f.d += t.d;
    into.set(key, f);
  }
}

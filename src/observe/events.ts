/**
 * Lifecycle events: what a process writes to its pino logger when the cluster changes under it.
 * Each record has an `event` field naming one of {@link LIFECYCLE_EVENTS} and the fields listed
 * there, so a log pipeline can select on them without parsing messages.
 */
import type { Logger } from "pino";

/** Every lifecycle event and the fields its record carries besides `event` and `msg`. */
export const LIFECYCLE_EVENTS = {
  /** A node's first heartbeat was seen: `node`, `addr`, `executors`. */
  "node.joined": "info",
  /** A node stopped heartbeating or its connection dropped: `node`. */
  "node.lost": "warn",
  /** A run failed on a snapshot conflict or fence and starts again: `run`, `dag`, `attempt`, `reason`, `node`. */
  "run.retried": "warn",
  /** A run had a function on a lost node and is placed again: `run`, `dag`, `attempt`, `reason`, `node`. */
  "run.relaunched": "warn",
  /** A lost node took a run past its retries: `run`, `dag`, `attempts`, `node`. */
  "run.abandoned": "error",
  /**
   * A read-atomic run's earlier attempt was fenced before a new one: `run`, `dag`, `attempt`,
   * `outcome` (`relaunched`, or `committed` when the fenced attempt had already committed).
   */
  "run.fenced": "warn",
  /** The autoscaler acted: `kind`, `target`, `from`, `to`, `why`, `inputs`. */
  "autoscaler.decision": "info",
  /** Storage stopped answering on a connection: `backend`, `detail`. */
  "storage.disconnected": "warn",
  /** Storage answers again: `backend`, `detail`. */
  "storage.reconnected": "info",
  /**
   * Work was refused with `OVERLOADED`: `where`, `detail`, and `suppressed` (refusals since the
   * last record, which is written at most once a second per place).
   */
  overload: "warn",
} as const;

/** A lifecycle event's name. */
export type LifecycleEvent = keyof typeof LIFECYCLE_EVENTS;

/**
 * Writes lifecycle event `event` at its level.
 *
 * @example
 * ```ts
 * lifecycle(log, "node.lost", { node: "n2" }, "node n2 lost");
 * ```
 */
export function lifecycle(
  log: Logger | undefined,
  event: LifecycleEvent,
  fields: Record<string, unknown>,
  msg: string,
): void {
  if (log === undefined) return;
  log[LIFECYCLE_EVENTS[event]]({ event, ...fields }, msg);
}

/**
 * `overload` records for one place, at most one a second: a burst of refusals is one line that
 * counts the rest, never a flood that slows the process further.
 *
 * @example
 * ```ts
 * const overloads = new OverloadLog(log, "node.queue");
 * overloads.note("100000 triggers queued");
 * ```
 */
export class OverloadLog {
  private last = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly log: Logger | undefined,
    private readonly where: string,
    private readonly intervalMs = 1000,
  ) {}

  note(detail: string): void {
    if (this.log === undefined) return;
    const now = performance.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    lifecycle(
      this.log,
      "overload",
      { where: this.where, detail, suppressed },
      `overloaded: ${detail}`,
    );
  }
}

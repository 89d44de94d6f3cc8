/**
 * Scheduled invocations: schedules kept in the store (`sys/sched/<name>`), and the ticker every
 * scheduler runs, which fires each tick once cluster-wide by claiming it in the store.
 *
 * @example
 * ```ts
 * import { ScheduleBook, Ticker } from "./cron/index.js";
 * const book = new ScheduleBook({ store, clock, registry });
 * const ticker = await Ticker.start({ id, store, clock, book, registry, dispatcher });
 * ```
 */
export { SCHEDULE_PREFIX, SCHEDULE_STATUS_PREFIX, ScheduleBook, parseCron } from "./book.js";
export type { ScheduleBookOptions, ScheduleDef, ScheduleStatus } from "./book.js";
export { TICK_PREFIX, Ticker } from "./ticker.js";
export type { TickInfo, TickerOptions } from "./ticker.js";

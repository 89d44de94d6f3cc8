/**
 * What the CLI prints for people: schedules with readable times, the next steps after `up`, and
 * what to do when the saved cluster no longer answers.
 */
import { ClosedError, isStratusError } from "../errors/index.js";
import type { ScheduleInfo } from "../protocol/index.js";

/**
 * `in 5 s`, `in 3 min`, `2 h ago`: a time relative to `now`, rounded to its largest unit.
 *
 * @example
 * ```ts
 * relativeTime(Date.now() + 90_000, Date.now()); // "in 2 min"
 * ```
 */
export function relativeTime(at: number, now: number): string {
  const d = at - now;
  const a = Math.abs(d);
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  const [size, unit] = units.find(([u]) => a >= u) ?? [1, "ms"];
  const n = Math.round(a / size);
  return d >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

/**
 * One line per schedule: name, cron, target and next tick as ISO time (UTC) and relative.
 *
 * @example
 * ```ts
 * formatSchedules([{ name: "r", cron: "0 * * * * *", fn: "report", next }], Date.now());
 * // "r  0 * * * * *  fn report  next 2026-12-07T18:00:00.000Z (in 12 s)\n"
 * ```
 */
export function formatSchedules(list: ScheduleInfo[], now: number): string {
  if (list.length === 0) return "no schedules\n";
  return list
    .map((s) => {
      const target = "fn" in s ? `fn ${s.fn}` : `dag ${s.dag}`;
      const next =
        s.next === null
          ? "no next tick"
          : `next ${new Date(s.next).toISOString()} (${relativeTime(s.next, now)})`;
      return `${s.name}  ${s.cron}  ${target}  ${next}\n`;
    })
    .join("");
}

/** What `up` suggests next: only commands that work on what the cluster holds. */
export function nextSteps(cmd: string, demo: boolean): string {
  if (demo) {
    return `Try (another terminal):  ${cmd} call inc '[1]'  |  ${cmd} dag pipeline '{"inc":[1]}'  |  ${cmd} status\n`;
  }
  return (
    `Next (another terminal):  ${cmd} deploy functions.ts  |  ${cmd} dev functions.ts  |  ${cmd} status\n` +
    `  (the cluster is empty: deploy a module that exports functions, or start with --demo)\n`
  );
}

/**
 * A connect failure to a cluster address that `stratus up` saved, turned into what to do: the
 * cluster it names has stopped. Other errors, and addresses given by flag or environment, pass
 * through unchanged.
 */
export function staleClusterError(e: unknown, url: string, savedIn: string | undefined): unknown {
  if (savedIn === undefined) return e;
  const code = isStratusError(e) ? e.details?.["code"] : (e as { code?: unknown }).code;
  const text = e instanceof Error ? e.message : String(e);
  if (code !== "ECONNREFUSED" && !/ECONNREFUSED/.test(text)) return e;
  return new ClosedError(
    `no cluster answers at ${url}, the address \`stratus up\` saved in ${savedIn}: that cluster has stopped. Start one with \`stratus up\` (it saves its new address), or pass --url and --token (or set STRATUS_URL and STRATUS_TOKEN) to reach another`,
    { retryable: false, details: { url } },
  );
}

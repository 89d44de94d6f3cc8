/**
 * What the dashboard's drill-down views show besides the overview: a page of state keys, the
 * schedules with their last and next ticks, the functions' versions, and a run's log lines.
 */
import { InvalidArgumentError } from "../errors/index.js";
import { encodedSize, plainValue } from "../lattice/index.js";
import type { Lattice } from "../lattice/index.js";
import type { FunctionVersion } from "../scheduler/index.js";
import { USER_PREFIX } from "../state/index.js";
import type { Store } from "../storage/index.js";
import type { ScheduleBook } from "../cron/index.js";

/** One key of a state listing. */
export interface KeyView {
  /** The key as users name it (without the store's `u/` namespace). */
  key: string;
  /** Its lattice kind (`lww`, `counter`, `set`, `map`…), or null if it was deleted meanwhile. */
  kind: string | null;
  /** Its value as JSON, cut at {@link PREVIEW_CHARS} characters. */
  preview: string;
  /** Bytes of its encoded lattice. */
  bytes: number;
}

/** One page of a state listing, and the cursor of the next (null at the end). */
export interface KeyPage {
  prefix: string;
  keys: KeyView[];
  next: string | null;
  /** Set when the listing stopped at {@link MAX_LISTED}: narrow the prefix to see further. */
  capped: boolean;
}

/** A request for one page of keys. */
export interface KeyQuery {
  prefix: string;
  /** From a previous page's `next`; absent for the first page. */
  cursor?: string;
  /** Keys per page. @default 50, at most {@link MAX_PAGE} */
  limit?: number;
}

/** A schedule with its next tick and what its last ticks did. */
export interface ScheduleView {
  name: string;
  cron: string;
  /** The function or DAG it runs. */
  target: string;
  /** Next tick (epoch ms), or null when the expression has none. */
  next: number | null;
  /** Last tick fired, when it finished, and whether it returned; null before the first. */
  last: { tick: number; at: number; ok: boolean } | null;
  failures: number;
  lastError: { tick: number; code: string; message: string } | null;
}

/** A registered function and its recent versions, newest first. */
export interface FunctionDetail {
  name: string;
  versions: FunctionVersion[];
}

/**
 * One captured log line of a function. The node-side capture is another part of the system: until
 * it is wired in, sources answer no lines.
 */
export interface LogLine {
  at: number;
  level: string;
  fn: string;
  node: string;
  invocation: string;
  msg: string;
}

/** Largest page of keys. */
export const MAX_PAGE = 200;
/** Matching keys one listing walks through at most, on a store without steps. */
export const MAX_LISTED = 10_000;
/** Scan steps one listing makes at most, each over about a page's worth of the keyspace. */
export const MAX_STEPS = 20;
/** Characters of a value's preview. */
export const PREVIEW_CHARS = 200;

/**
 * One page of the user keys under `prefix`, about `limit` keys (a step of the store's scan is not
 * cut, so a page may hold a step's worth more). Each request is bounded whatever its cursor: on a
 * store with {@link Store.scanStep} it makes at most {@link MAX_STEPS} steps of `limit` keys of
 * the keyspace each, so a prefix few keys match answers a short (even empty) page with a cursor
 * to go on from, never a walk of the whole keyspace; on other stores the cursor is a position
 * and a request walks at most {@link MAX_LISTED} matching keys, past which the page says
 * `capped`. A scan promises no order, so keys written or deleted between pages may shift pages.
 */
export async function listKeys(
  store: Pick<Store, "scan" | "scanStep" | "getMany">,
  q: KeyQuery,
): Promise<KeyPage> {
  const limit = q.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw InvalidArgumentError.field("limit", `must be a whole number from 1 to ${MAX_PAGE}`);
  }
  if (typeof q.prefix !== "string" || q.prefix.length > 1024) {
    throw InvalidArgumentError.field("prefix", "must be a string of at most 1024 characters");
  }
  if (q.cursor !== undefined && (typeof q.cursor !== "string" || q.cursor.length > 2048)) {
    throw InvalidArgumentError.field("cursor", "is not a cursor this listing gave");
  }
  const page =
    store.scanStep === undefined
      ? await byPosition(store, q.prefix, q.cursor ?? "", limit)
      : await bySteps(store.scanStep.bind(store), q.prefix, q.cursor ?? "", limit);
  const values = page.names.length === 0 ? [] : await store.getMany(page.names);
  const keys = page.names.map((k, i) => view(k.slice(USER_PREFIX.length), values[i]));
  return { prefix: q.prefix, keys, next: page.next, capped: page.capped };
}

interface Found {
  names: string[];
  next: string | null;
  capped: boolean;
}

async function bySteps(
  step: NonNullable<Store["scanStep"]>,
  prefix: string,
  cursor: string,
  limit: number,
): Promise<Found> {
  const names = new Set<string>();
  let at = cursor;
  for (let i = 0; i < MAX_STEPS && names.size < limit; i++) {
    const got = await step(USER_PREFIX + prefix, at, limit);
    for (const k of got.keys) names.add(k);
    at = got.next;
    if (at === "") break;
  }
  return { names: [...names], next: at === "" ? null : at, capped: false };
}

async function byPosition(
  store: Pick<Store, "scan">,
  prefix: string,
  cursor: string,
  limit: number,
): Promise<Found> {
  const skip = cursor === "" ? 0 : Number(cursor);
  if (!Number.isSafeInteger(skip) || skip < 0 || skip >= MAX_LISTED) {
    throw InvalidArgumentError.field("cursor", "is not a cursor this listing gave");
  }
  const want = Math.min(skip + limit, MAX_LISTED);
  const names: string[] = [];
  let seen = 0;
  let more = false;
  for await (const k of store.scan(USER_PREFIX + prefix)) {
    if (seen >= want) {
      more = true;
      break;
    }
    if (seen >= skip) names.push(k);
    seen++;
  }
  const capped = more && want === MAX_LISTED;
  return { names, next: more && !capped ? String(want) : null, capped };
}

function view(key: string, l: Lattice | undefined): KeyView {
  if (l === undefined) return { key, kind: null, preview: "", bytes: 0 };
  let preview: string;
  try {
    preview = JSON.stringify(plainValue(l), (_k, v: unknown) => printable(v)) ?? "";
  } catch {
    preview = "(not shown)";
  }
  if (preview.length > PREVIEW_CHARS) preview = preview.slice(0, PREVIEW_CHARS - 1) + "…";
  return { key, kind: l.kind, preview, bytes: encodedSize(l) };
}

/** JSON has no bigint, bytes, maps or sets: show them as something readable. */
function printable(v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`;
  if (v instanceof Map)
    return Object.fromEntries([...v].map(([k, x]) => [String(k), x as unknown]));
  if (v instanceof Set) return [...v] as unknown[];
  return v;
}

/**
 * The schedules as the schedules view shows them: each one's definition and next tick from the
 * book, with the outcome of its last tick as the scheduler that fired it noted.
 */
export async function scheduleViews(
  book: Pick<ScheduleBook, "list" | "statuses">,
): Promise<ScheduleView[]> {
  const list = await book.list();
  const statuses = await book.statuses(list.map((s) => s.name));
  return list.map((s, i) => {
    const st = statuses[i];
    return {
      name: s.name,
      cron: s.cron,
      target: "fn" in s ? s.fn : `dag ${s.dag}`,
      next: s.next,
      last: st === undefined ? null : { tick: st.tick, at: st.at, ok: st.ok },
      failures: st?.failures ?? 0,
      lastError: st?.lastError ?? null,
    };
  });
}

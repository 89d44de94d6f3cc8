/**
 * Exact-shape checks for what arrives over the wire. Decoded msgpack objects inherit from
 * `Object.prototype`, so `in` and plain property reads find `toString` and friends on any object:
 * every check here reads own properties only, refuses keys it does not know, and bounds sizes, so
 * a bad message costs itself and never an exception further in.
 *
 * Each check is a type guard: what passes it has the type the check spells, so a reader of a
 * checked message needs no cast.
 */

import type { ErrorCode, WireError } from "../errors/index.js";

/** A type guard on a decoded value. */
export type Check<T = unknown> = (v: unknown) => v is T;

/** The type a {@link Check} narrows to. */
export type Checked<C> = C extends Check<infer T> ? T : never;

/** Longest id, name or address string accepted in a peer message. */
export const MAX_STRING = 1024;
/** Most entries accepted in a list or record of a peer message (functions, args, keys…). */
export const MAX_ENTRIES = 10_000;

/**
 * An empty record keyed by names a client or function chose: no prototype, so a name such as
 * `__proto__` or `constructor` is an entry like any other, never a setter or an inherited method.
 */
export function nameMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A plain object (not an array, not bytes). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** An own property of `o`, or undefined: never one inherited from a prototype. */
export function own(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export const str =
  (max = MAX_STRING): Check<string> =>
  (v): v is string =>
    typeof v === "string" && v.length <= max;

export const nonEmptyStr =
  (max = MAX_STRING): Check<string> =>
  (v): v is string =>
    typeof v === "string" && v.length > 0 && v.length <= max;

export const int =
  (min: number, max: number): Check<number> =>
  (v): v is number =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

export const finite: Check<number> = (v): v is number =>
  typeof v === "number" && Number.isFinite(v);
export const bool: Check<boolean> = (v): v is boolean => typeof v === "boolean";
export const bytes: Check<Uint8Array> = (v): v is Uint8Array => v instanceof Uint8Array;
/** Any value: for fields whose reader checks them itself. */
export const anything: Check<unknown> = (_v): _v is unknown => true;

/** One of the given literals. */
export const oneOf =
  <const T extends readonly (string | number)[]>(...values: T): Check<T[number]> =>
  (v): v is T[number] =>
    values.includes(v as T[number]);

export const listOf =
  <T>(item: Check<T>, max = MAX_ENTRIES): Check<T[]> =>
  (v): v is T[] =>
    Array.isArray(v) && v.length <= max && v.every(item);

/** A record of any own keys (bounded in count and length) whose values all pass `value`. */
export const recordOf =
  <T>(value: Check<T>, max = MAX_ENTRIES): Check<Record<string, T>> =>
  (v): v is Record<string, T> => {
    if (!isRecord(v)) return false;
    const keys = Object.keys(v);
    return keys.length <= max && keys.every((k) => k.length <= MAX_STRING && value(v[k]));
  };

/** Checks of an object's fields, by name. */
type Fields = Record<string, Check<unknown>>;

/** What {@link exact} narrows to: the required fields, and the optional ones maybe. */
export type Exact<R extends Fields, O extends Fields> = {
  [K in keyof R]: Checked<R[K]>;
} & { [K in keyof O]?: Checked<O[K]> };

/**
 * An object with exactly these keys: every `required` one present as an own property, `optional`
 * ones absent, undefined or valid, and no other key.
 */
export function exact<R extends Fields>(required: R): Check<Exact<R, Record<never, never>>>;
export function exact<R extends Fields, O extends Fields>(
  required: R,
  optional: O,
): Check<Exact<R, O>>;
export function exact<R extends Fields, O extends Fields>(
  required: R,
  optional?: O,
): Check<Exact<R, O>> {
  const req = Object.entries(required);
  const opt: Fields = optional ?? {};
  return (v): v is Exact<R, O> => {
    if (!isRecord(v)) return false;
    for (const [k, check] of req) if (!Object.hasOwn(v, k) || !check(v[k])) return false;
    for (const k of Object.keys(v)) {
      if (Object.hasOwn(required, k)) continue;
      if (!Object.hasOwn(opt, k)) return false;
      const x = v[k];
      if (x !== undefined && !(opt[k] as Check<unknown>)(x)) return false;
    }
    return true;
  };
}

/** An empty object: a request without fields. */
export const empty: Check<Record<string, never>> = (v): v is Record<string, never> =>
  isRecord(v) && Object.keys(v).length === 0;

/**
 * An error code. A code this process does not know (a newer peer's) passes too: `fromWireError`
 * makes it a plain `StratusError` that keeps the code.
 */
const errorCode: Check<ErrorCode> = (v): v is ErrorCode => nonEmptyStr(64)(v);

/** A WireError as sent in results and future pushes. */
export const isWireErrorShape: Check<WireError> = exact(
  { code: errorCode, message: str(64 * 1024), retryable: bool },
  { details: isRecord, stack: str(256 * 1024) },
);

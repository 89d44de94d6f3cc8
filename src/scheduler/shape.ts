/**
 * Exact-shape checks for what arrives over the wire. Decoded msgpack objects inherit from
 * `Object.prototype`, so `in` and plain property reads find `toString` and friends on any object:
 * every check here reads own properties only, refuses keys it does not know, and bounds sizes, so
 * a bad message costs itself and never an exception further in.
 */

/** A predicate on a decoded value. */
export type Check = (v: unknown) => boolean;

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
  (max = MAX_STRING): Check =>
  (v) =>
    typeof v === "string" && v.length <= max;

export const nonEmptyStr =
  (max = MAX_STRING): Check =>
  (v) =>
    typeof v === "string" && v.length > 0 && v.length <= max;

export const int =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

export const finite: Check = (v) => typeof v === "number" && Number.isFinite(v);
export const bool: Check = (v) => typeof v === "boolean";
export const bytes: Check = (v) => v instanceof Uint8Array;

export const listOf =
  (item: Check, max = MAX_ENTRIES): Check =>
  (v) =>
    Array.isArray(v) && v.length <= max && v.every(item);

/** A record of any own keys (bounded in count and length) whose values all pass `value`. */
export const recordOf =
  (value: Check, max = MAX_ENTRIES): Check =>
  (v) => {
    if (!isRecord(v)) return false;
    const keys = Object.keys(v);
    return keys.length <= max && keys.every((k) => k.length <= MAX_STRING && value(v[k]));
  };

/**
 * An object with exactly these keys: every `required` one present as an own property, `optional`
 * ones absent, undefined or valid, and no other key.
 */
export function exact(
  required: Record<string, Check>,
  optional: Record<string, Check> = {},
): Check {
  const req = Object.entries(required);
  return (v) => {
    if (!isRecord(v)) return false;
    for (const [k, check] of req) if (!Object.hasOwn(v, k) || !check(v[k])) return false;
    for (const k of Object.keys(v)) {
      if (Object.hasOwn(required, k)) continue;
      if (!Object.hasOwn(optional, k)) return false;
      const x = v[k];
      if (x !== undefined && !(optional[k] as Check)(x)) return false;
    }
    return true;
  };
}

/** A WireError as sent in results and future pushes. */
export const isWireErrorShape: Check = exact(
  { code: nonEmptyStr(64), message: str(64 * 1024), retryable: bool },
  { details: isRecord, stack: str(256 * 1024) },
);

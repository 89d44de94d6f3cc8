import { InvalidArgumentError } from "../errors/index.js";
import { REF_MARKER } from "../function/index.js";

/** The field that marks an argument as a reference to a stored key (see the executor). */
export const REF_FIELD = REF_MARKER;

/** A reference to a stored key, resolved by the executor that runs the function. */
export interface Ref {
  readonly [REF_FIELD]: string;
}

/**
 * Passes a stored value by reference: the executor reads the key (from its node's cache when
 * it is there) and the function receives the value. The scheduler also uses references to place
 * the call on a node that already caches them.
 *
 * @example
 * ```ts
 * await cloud.put("k", 5);
 * await cloud.call("inc", [ref("k")]); // 6
 * ```
 */
export function ref(key: string): Ref {
  if (typeof key !== "string" || key.length === 0) {
    throw new InvalidArgumentError("ref() needs a non-empty key");
  }
  return { [REF_FIELD]: key };
}

/** True for values made by {@link ref}. */
export function isRef(v: unknown): v is Ref {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as Record<string, unknown>)[REF_FIELD] === "string" &&
    Object.keys(v).length === 1
  );
}

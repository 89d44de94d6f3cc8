import { InvalidArgumentError } from "../errors/index.js";
import { decodeValue, encodeValue } from "../lattice/index.js";

/**
 * JSON in and out of the value codec. A JSON body decodes to plain values that encodeValue
 * stores exactly as the TypeScript SDK would store the same values, so both kinds of client read
 * each other's results. On the way out, values JSON has no form for are written as the closest
 * JSON: bigint as a decimal string, Map as an object, Set as an array, bytes as base64.
 */
export function argsFromJson(v: unknown, what: string): Uint8Array[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError(`${what} must be a JSON array`);
  return v.map((x: unknown) => encodeValue(x));
}

/** Serialises an encoded value (or `null`) as JSON text. */
export function valueToJson(bytes: Uint8Array | null | undefined): unknown {
  return bytes === null || bytes === undefined ? null : decodeValue(bytes);
}

/** JSON.stringify that never throws on values msgpack can carry but JSON cannot. */
export function stringify(body: unknown): string {
  return JSON.stringify(body, function (this: Record<string, unknown>, k: string, v: unknown) {
    // Buffer's own toJSON has already run on v; the holder still has the bytes.
    const raw = this[k];
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString("base64");
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Map) return Object.fromEntries(v as Map<string, unknown>);
    if (v instanceof Set) return [...(v as Set<unknown>)];
    return v;
  });
}

/** Byte-string helpers shared by the lattices; every ordering here is plain unsigned byte order. */

/** Orders two byte strings lexicographically by unsigned byte, shorter-prefix first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(asBuffer(a), asBuffer(b));
}

/** True when both byte strings hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/**
 * A string with one character per byte, usable as a Map key for byte strings. Latin-1 maps each
 * byte to exactly one code unit, so distinct byte strings give distinct keys.
 */
export function bytesKey(a: Uint8Array): string {
  return asBuffer(a).toString("latin1");
}

/** Views bytes as a Buffer without copying. */
export function asBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Seeded pseudo-random numbers for model weights and synthetic inputs. Weights must be the same on
 * every machine and every run (tests compare outputs across builds), so nothing here may use
 * `Math.random`.
 */

/** mulberry32: a tiny 32-bit generator, good enough for weights; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` floats uniform in [-scale, scale). */
export function uniform(next: () => number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

/**
 * Weights for a layer with `fanIn` inputs, scaled (He-style) so activations neither vanish nor
 * explode through a few ReLU layers: a random net then gives inputs different, non-uniform outputs.
 */
export function heWeights(next: () => number, n: number, fanIn: number, gain = 1): Float32Array {
  return uniform(next, n, gain * Math.sqrt(6 / fanIn));
}

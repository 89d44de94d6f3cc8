/**
 * The recommender's arithmetic: 512-d user vectors scored against a category's 2500x512 item
 * matrix, best 5 kept. Plain Float32Array loops: one matrix-vector product per request is
 * memory-bound (5 MB of weights), which is why the pipeline runs it where the matrix is cached.
 */
import { mulberry32, uniform } from "./random.js";

/** Dimension of user and item vectors. */
export const EMBED_DIM = 512;
/** Items per category matrix. */
export const CATEGORY_ITEMS = 2500;

/** One recommendation: an item's row in its category matrix and its score. */
export interface Scored {
  item: number;
  score: number;
}

/** A seeded user vector (unit length). */
export function userVector(seed: number, dim = EMBED_DIM): Float32Array {
  const v = uniform(mulberry32(seed), dim, 1);
  let n = 0;
  for (const x of v) n += x * x;
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i] = (v[i] as number) * s;
  return v;
}

/** A seeded category matrix, `items` rows of `dim`, row-major. */
export function categoryMatrix(
  seed: number,
  items = CATEGORY_ITEMS,
  dim = EMBED_DIM,
): Float32Array {
  return uniform(mulberry32(seed ^ 0x9e3779b9), items * dim, 1 / Math.sqrt(dim));
}

/**
 * The `k` rows of `matrix` with the highest dot product with `user`, best first (ties: lower row
 * first, so the answer is deterministic).
 *
 * @example
 * ```ts
 * topK(userVector(1), categoryMatrix(7), 5); // [{ item: 1234, score: 0.21 }, …]
 * ```
 */
export function topK(user: Float32Array, matrix: Float32Array, k = 5): Scored[] {
  const dim = user.length;
  if (dim === 0 || matrix.length % dim !== 0) {
    throw new RangeError(`a ${matrix.length}-value matrix has no rows of ${dim}`);
  }
  const best: Scored[] = [];
  for (let r = 0, off = 0; off < matrix.length; r++, off += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += (user[i] as number) * (matrix[off + i] as number);
    if (best.length < k || s > (best[best.length - 1] as Scored).score) {
      let at = best.length;
      while (at > 0 && (best[at - 1] as Scored).score < s) at--;
      best.splice(at, 0, { item: r, score: s });
      if (best.length > k) best.pop();
    }
  }
  return best;
}

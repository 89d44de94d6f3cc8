/** Tokenizing text for the toy translator and running its decoding loop. */
import { VOCAB } from "./models.js";
import type { Model } from "./model.js";

/** Hashes each word of `text` to a token id in [1, VOCAB); at most `max` tokens. */
export function tokenize(text: string, max = 32): BigInt64Array {
  const words = String(text).toLowerCase().split(/\s+/).filter(Boolean).slice(0, max);
  const out = new BigInt64Array(Math.max(1, words.length));
  words.forEach((w, i) => {
    let h = 2166136261;
    for (let j = 0; j < w.length; j++) h = Math.imul(h ^ w.charCodeAt(j), 16777619);
    out[i] = BigInt(1 + ((h >>> 0) % (VOCAB - 1)));
  });
  return out;
}

/**
 * Runs `steps` decoding steps of a translator model over `tokens`, each step feeding back the
 * previous step's output, and returns the final tokens. The cost grows with `steps`, so a caller
 * that draws `steps` from a long-tailed distribution gets a stage with real, long-tailed latency.
 * With `signal` (pass `ctx.signal`) a cancelled translation stops between steps, throwing the
 * signal's reason, so a losing replica frees its executor early.
 */
export async function translate(
  m: Model,
  tokens: BigInt64Array,
  steps: number,
  signal?: AbortSignal,
): Promise<BigInt64Array> {
  let cur = tokens;
  for (let i = 0; i < Math.max(1, steps); i++) {
    signal?.throwIfAborted();
    const out = await m.run({ tokens: { data: cur, dims: [1, cur.length] } });
    cur = out.next?.data as BigInt64Array;
  }
  return cur;
}

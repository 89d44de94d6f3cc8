/**
 * Informal throughput check of the executor pool (not a test; run by hand):
 *
 *     node --import tsx test/executor/measure-throughput.ts [workers=2] [inFlight=256] [calls=200000]
 *
 * Invokes a trivial `(ctx, x) => x + 1` with `inFlight` calls outstanding at all times and prints
 * invocations per second for a few rounds (the first includes warm-up).
 */
import { ExecutorPool } from "../../src/node/executor/index.js";
import type { FunctionCode } from "../../src/node/executor/index.js";
import { encodeValue } from "../../src/lattice/index.js";

const [workers = 2, inFlight = 256, calls = 200_000] = process.argv.slice(2).map(Number);
const pool = new ExecutorPool({ size: workers, host: () => Promise.resolve(undefined) });
await pool.start();
const code: FunctionCode = {
  name: "inc",
  version: "1",
  kind: "source",
  source: "(ctx, x) => x + 1",
};
const arg = encodeValue(1);

for (let round = 1; round <= 4; round++) {
  let sent = 0;
  let done = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      if (sent === calls) return;
      const id = `r${round}-${sent++}`;
      pool.invoke({ id, code, args: [arg] }).then(() => {
        if (++done === calls) resolve();
        else next();
      }, reject);
    };
    for (let i = 0; i < inFlight; i++) next();
  });
  const perSecond = Math.round((calls / (performance.now() - t0)) * 1000);
  console.log(
    `round ${round}: ${perSecond} invocations/s (${workers} workers, ${inFlight} in flight)`,
  );
}
await pool.close();

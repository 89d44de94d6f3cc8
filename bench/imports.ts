/**
 * imports: what starting to use Stratus costs a fresh process, as a user gets it (the package
 * built and laid out as installed), each against a bare `node -e "0"` measured in the same run:
 * - `import_client_ms`: a process that runs `import { Stratus } from "stratus"` and exits;
 * - `cli_call_ms`: `stratus call inc [1]` (the installed CLI) against a running cluster, from
 *   spawn to exit, printed answer included.
 * One of each per round, in turn, so all three see the same (shared, noisy) machine; times are
 * medians over the rounds, and the ratios are medians of the per-round ratios (with their
 * smallest and largest).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { local } from "../src/local/index.js";
import { buildPackage } from "../testing/built-package.js";
import type { Benchmark, Metrics } from "./lib/harness.js";
import { percentiles } from "./lib/measure.js";

const exec = promisify(execFile);
const median = (xs: number[]): number => percentiles(xs).p50;

/** Milliseconds from spawning `node <args>` to its exit; its stdout must match `expect`. */
async function timed(args: string[], cwd: string, expect: RegExp): Promise<number> {
  const t0 = performance.now();
  const r = await exec(process.execPath, args, { cwd, timeout: 60_000 });
  const ms = performance.now() - t0;
  if (!expect.test(r.stdout)) throw new Error(`node ${args.join(" ")} printed ${r.stdout}`);
  return ms;
}

const imports: Benchmark = {
  name: "imports",
  description: "fresh-process cost of importing the client and of a CLI call, vs bare node",
  async run(ctx): Promise<Metrics> {
    const rounds = ctx.quick ? 8 : 30;
    ctx.log("building the package (tsc)");
    const built = await buildPackage(join(import.meta.dirname, ".scratch", "imports"));
    const client = join(built.app, "client.mjs");
    writeFileSync(client, 'import { Stratus } from "stratus";\nconsole.log(typeof Stratus);\n');
    const token = randomBytes(16).toString("hex");
    const cloud = await local({ executors: 1, token });
    try {
      await cloud.register("inc", async (_ctx, x: number) => x + 1);
      const url = cloud.url as string;
      const sides = {
        node: () => timed(["-e", 'console.log("0")'], built.app, /^0\n$/),
        import: () => timed([client], built.app, /^function\n$/),
        cli: () =>
          timed(
            [built.bin, "call", "inc", "[1]", "--url", url, "--token", token],
            built.app,
            /^2\n$/,
          ),
      };
      // One untimed run of each: the first reads every file from disk.
      for (const run of Object.values(sides)) await run();
      const t = { node: [] as number[], import: [] as number[], cli: [] as number[] };
      const ratios = { import: [] as number[], cli: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        const node = await sides.node();
        const imp = await sides.import();
        const cli = await sides.cli();
        t.node.push(node);
        t.import.push(imp);
        t.cli.push(cli);
        ratios.import.push(imp / node);
        ratios.cli.push(cli / node);
        if ((r + 1) % 5 === 0) ctx.log(`round ${r + 1}/${rounds}`);
      }
      return {
        node_ms: median(t.node),
        import_client_ms: median(t.import),
        cli_call_ms: median(t.cli),
        import_client_vs_node: median(ratios.import),
        import_client_vs_node_min: Math.min(...ratios.import),
        import_client_vs_node_max: Math.max(...ratios.import),
        cli_call_vs_node: median(ratios.cli),
        cli_call_vs_node_min: Math.min(...ratios.cli),
        cli_call_vs_node_max: Math.max(...ratios.cli),
      };
    } finally {
      await cloud.close();
    }
  },
};

export default imports;

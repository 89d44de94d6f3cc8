/**
 * An embedded cluster: a scheduler and a node over an in-memory store (or any store), in this
 * process, with a client connected to it. The `stratus/local` entry of the package: the client
 * entry (`stratus`) loads none of the server, and `Stratus.local()` loads this module only when
 * called.
 *
 * @example
 * ```ts
 * import { local } from "stratus/local";
 * const cloud = await local({ executors: 2 });
 * await cloud.register("inc", async (ctx, x: number) => x + 1);
 * await cloud.call("inc", [1]); // 2
 * await cloud.close(); // stops the embedded cluster too
 * ```
 */
import { randomBytes } from "node:crypto";
import { Stratus } from "../client/index.js";
import { StratusProcess } from "../cluster/index.js";
import type { ProcessOptions } from "../cluster/index.js";

/** Options of {@link local}: the process options, a token of your own if you like. */
export type LocalOptions = Partial<Omit<ProcessOptions, "token" | "scheduler">> & {
  token?: string;
};

/**
 * Starts an embedded cluster (memory store, scheduler, node) and connects a client to it;
 * closing the client stops the cluster.
 */
export async function local(options: LocalOptions = {}): Promise<Stratus> {
  const token = options.token ?? randomBytes(16).toString("hex");
  const proc = await StratusProcess.start({ ...options, token });
  try {
    return await Stratus.embedded(proc.url, token, proc);
  } catch (e) {
    await proc.close();
    throw e;
  }
}

export { Stratus, StratusProcess };
export type { ProcessOptions };

/**
 * `logs` on a scheduler: each live node keeps its own functions' lines (src/node/logs.ts), and
 * the gateway asks every one of them over its peer link, in parallel. A node that does not answer
 * in time is named in the answer rather than failing it: logs are for looking, and one lost node
 * must not hide the others' lines.
 */
import type { Node } from "../node/index.js";
import { request } from "../protocol/index.js";
import type { FunctionLogLine, LogQuery, LogsAnswer } from "../protocol/index.js";
import type { Membership, Peers } from "../scheduler/index.js";

/** How long a node has to answer a `node.logs` request. */
const NODE_LOGS_TIMEOUT_MS = 3000;

/** What {@link readClusterLogs} asks. */
export interface LogSources {
  /** This process's id, and its node when it runs one (asked without the network). */
  id: string;
  node: Node | undefined;
  membership: Membership;
  peers: Peers;
}

/**
 * Lines matching `q` from every live node, sorted by time (ties by node and number).
 *
 * @example
 * ```ts
 * const { lines } = await readClusterLogs({ id, node, membership, peers }, { run: "r1" });
 * ```
 */
export async function readClusterLogs(s: LogSources, q: LogQuery): Promise<LogsAnswer> {
  const unreachable: string[] = [];
  const parts = await Promise.all(
    s.membership.list().map(async (m): Promise<FunctionLogLine[]> => {
      if (m.id === s.id && s.node !== undefined) return s.node.readLogs(q);
      try {
        const conn = await s.peers.get(m.addr);
        const r = await request(conn, "node.logs", q, { timeoutMs: NODE_LOGS_TIMEOUT_MS });
        return r.lines;
      } catch {
        unreachable.push(m.id);
        return [];
      }
    }),
  );
  const lines = parts.flat();
  lines.sort((a, b) => a.ts - b.ts || a.node.localeCompare(b.node) || a.seq - b.seq);
  return { lines, unreachable };
}

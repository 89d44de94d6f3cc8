/**
 * Function logs on the wire: one `console.*` line as a node keeps it, the query `stratus logs`
 * sends (the gateway's `logs` method, which asks each node with `node.logs`), and the answer.
 */
import { InvalidArgumentError } from "../errors/index.js";
import { exact, int, isRecord, nonEmptyStr, recordOf, str } from "./shape.js";
import type { Check } from "./shape.js";

/** A console line's level: `log`, `info` and `dir` are `info`; `debug` and `trace` are `debug`. */
export type FunctionLogLevel = "debug" | "info" | "warn" | "error";

/** One `console.*` line a function wrote. */
export interface FunctionLogLine {
  /** The node's number for the line: increasing on that node, the cursor of `after`. */
  seq: number;
  /** When the node received it (epoch ms). */
  ts: number;
  node: string;
  level: FunctionLogLevel;
  msg: string;
  /** Function, invocation and run; absent on a line written outside any invocation. */
  fn?: string;
  inv?: string;
  /** Absent too for a line written after its invocation answered (a stray timer). */
  run?: string;
}

/** Which lines to read: the filters, and per node the last `seq` already read. */
export interface LogQuery {
  fn?: string;
  run?: string;
  /** Node id to the last line read from it: only later lines are returned. */
  after?: Record<string, number>;
  /** Most lines per node. @default 1000 */
  limit?: number;
}

/** What `logs` answers: lines of every node asked, oldest first on each node. */
export interface LogsAnswer {
  lines: FunctionLogLine[];
  /** Live nodes that did not answer in time: their lines are missing from this answer. */
  unreachable: string[];
}

/** Most lines one query returns per node. */
export const MAX_LOG_QUERY_LINES = 10_000;

export const logQueryShape: Check<LogQuery> = exact(
  {},
  {
    fn: str(256),
    run: nonEmptyStr(256),
    after: recordOf(int(0, Number.MAX_SAFE_INTEGER), 4096),
    limit: int(1, MAX_LOG_QUERY_LINES),
  },
);

/**
 * The query a peer sent (`node.logs`), checked.
 *
 * @throws InvalidArgumentError for a payload of the wrong shape.
 * @example
 * ```ts
 * checkLogQuery({ fn: "inc", after: { n1: 41 } }); // ok
 * checkLogQuery({ limit: -1 }); // throws INVALID_ARGUMENT
 * ```
 */
export function checkLogQuery(v: unknown): LogQuery {
  const q = v === undefined || v === null ? {} : v;
  if (!logQueryShape(q)) {
    const keys = isRecord(q) ? Object.keys(q).slice(0, 8).join(", ") : typeof q;
    throw new InvalidArgumentError(`malformed logs query (got ${keys})`);
  }
  return q;
}

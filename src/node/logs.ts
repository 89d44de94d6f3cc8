/**
 * The function logs a node keeps: the latest `console.*` lines of the functions it ran, bounded
 * by count and by bytes, oldest dropped first. Lines are numbered per node, so a reader (`stratus
 * logs -f`) asks for what came after the last line it saw and misses nothing still kept.
 */
import { MAX_LOG_QUERY_LINES } from "../protocol/index.js";
import type { FunctionLogLevel, FunctionLogLine, LogQuery } from "../protocol/index.js";

/** Defaults of {@link FunctionLogsOptions}. */
export const FUNCTION_LOGS_DEFAULTS = {
  /** Lines kept per node. */
  maxLines: 10_000,
  /** Bytes of lines kept per node (the text at 2 bytes a character, plus 160 per line). */
  maxBytes: 8 * 1024 * 1024,
  /** Lines a query returns per node when it names no limit. */
  queryLimit: 1000,
} as const;

/** Options of {@link FunctionLogs}. */
export interface FunctionLogsOptions {
  /** @default 10000 */
  maxLines?: number;
  /** @default 8 MiB */
  maxBytes?: number;
}

/** What a kept line costs beyond its text: its fields and the array slot (an estimate). */
const LINE_OVERHEAD = 160;

const cost = (l: FunctionLogLine): number =>
  LINE_OVERHEAD + 2 * (l.msg.length + (l.fn?.length ?? 0) + (l.run?.length ?? 0));

/**
 * One node's bounded buffer of function log lines.
 *
 * @example
 * ```ts
 * const logs = new FunctionLogs("n1");
 * logs.add({ level: "info", msg: "hello", fn: "inc", inv: "n1.7", run: "r1" });
 * logs.read({ run: "r1" }); // [{ seq: 1, node: "n1", msg: "hello", … }]
 * ```
 */
export class FunctionLogs {
  private readonly lines: FunctionLogLine[] = [];
  /** Index of the oldest kept line in `lines` (dropping from the front is amortised). */
  private head = 0;
  private seq = 0;
  private bytes = 0;
  private readonly maxLines: number;
  private readonly maxBytes: number;
  /** Lines dropped to stay within the bounds, since the node started. */
  dropped = 0;

  constructor(
    readonly node: string,
    o: FunctionLogsOptions = {},
  ) {
    this.maxLines = o.maxLines ?? FUNCTION_LOGS_DEFAULTS.maxLines;
    this.maxBytes = o.maxBytes ?? FUNCTION_LOGS_DEFAULTS.maxBytes;
  }

  /** Lines kept now. */
  get size(): number {
    return this.lines.length - this.head;
  }

  /** Keeps one line, numbering it; returns it as kept. */
  add(l: {
    level: FunctionLogLevel;
    msg: string;
    fn?: string;
    inv?: string;
    run?: string;
  }): FunctionLogLine {
    const line: FunctionLogLine = {
      seq: ++this.seq,
      ts: Date.now(),
      node: this.node,
      level: l.level,
      msg: l.msg,
    };
    if (l.fn !== undefined) line.fn = l.fn;
    if (l.inv !== undefined) line.inv = l.inv;
    if (l.run !== undefined) line.run = l.run;
    this.lines.push(line);
    this.bytes += cost(line);
    while (this.size > this.maxLines || (this.bytes > this.maxBytes && this.size > 1)) {
      const old = this.lines[this.head] as FunctionLogLine;
      this.lines[this.head++] = undefined as unknown as FunctionLogLine;
      this.bytes -= cost(old);
      this.dropped++;
    }
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines.splice(0, this.head);
      this.head = 0;
    }
    return line;
  }

  /** Kept lines matching `q`, oldest first, after `q.after[node]`, at most `q.limit`. */
  read(q: LogQuery): FunctionLogLine[] {
    const after =
      q.after !== undefined && Object.hasOwn(q.after, this.node) ? q.after[this.node] : 0;
    const limit = Math.min(q.limit ?? FUNCTION_LOGS_DEFAULTS.queryLimit, MAX_LOG_QUERY_LINES);
    const out: FunctionLogLine[] = [];
    // Binary search for the first line past the cursor: seqs increase along the array.
    let lo = this.head;
    let hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.lines[mid] as FunctionLogLine).seq <= (after ?? 0)) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.lines.length && out.length < limit; i++) {
      const l = this.lines[i] as FunctionLogLine;
      if (q.fn !== undefined && l.fn !== q.fn) continue;
      if (q.run !== undefined && l.run !== q.run) continue;
      out.push(l);
    }
    return out;
  }
}

/** A writable stream that keeps the JSON records pino writes to it, for tests to inspect. */
import { Writable } from "node:stream";

/** pino's records, parsed, in the order they were written. */
export class LogRecords extends Writable {
  readonly records: Record<string, unknown>[] = [];
  private partial = "";

  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    const text = this.partial + chunk.toString();
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    for (const l of lines)
      if (l.trim() !== "") this.records.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }

  /** Records of lifecycle event `event` (their `event` field), optionally matching `where`. */
  events(event: string, where: Record<string, unknown> = {}): Record<string, unknown>[] {
    return this.records.filter(
      (r) => r["event"] === event && Object.entries(where).every(([k, v]) => r[k] === v),
    );
  }
}

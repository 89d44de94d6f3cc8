/**
 * A node's spans: one per function invocation (a child of its run's gateway span, named by the
 * trigger's `tp`), and one per storage operation its function makes (a child of the
 * invocation's). Only built when the process traces; without it nothing here runs.
 */
import { performance } from "node:perf_hooks";
import { SpanKind } from "../observe/index.js";
import type { Span, Tracing } from "../observe/index.js";
import type { Trigger } from "../protocol/index.js";
import type { HostHandlers, HostInvocation } from "./executor/index.js";

/** The invocation spans a node has open, by invocation id. */
export class NodeTracing {
  private readonly open = new Map<string, Span>();

  constructor(
    readonly tracing: Tracing,
    private readonly node: string,
  ) {}

  /**
   * Opens invocation `inv`'s span; returns what the pool calls when a worker starts it, which
   * records how long it waited for one (`stratus.queue_ms`).
   */
  start(t: Trigger, fn: string, inv: string): () => void {
    const span = this.tracing.span(`invoke ${fn}`, t.meta.tp, {
      "stratus.function": fn,
      "stratus.node": this.node,
      "stratus.invocation": inv,
      "stratus.run": t.meta.run,
      "stratus.attempt": t.meta.attempt,
    });
    this.open.set(inv, span);
    const queued = performance.now();
    return () => span.setAttribute("stratus.queue_ms", performance.now() - queued);
  }

  /** Closes invocation `inv`'s span (failed, with `error`); a second close does nothing. */
  end(inv: string, error?: unknown): void {
    const span = this.open.get(inv);
    if (span === undefined) return;
    this.open.delete(inv);
    this.tracing.end(span, error);
  }

  /** The `traceparent` of invocation `inv`'s span: the parent of its nested calls' runs. */
  traceparent(inv: string): string | undefined {
    const span = this.open.get(inv);
    return span === undefined ? undefined : this.tracing.traceparent(span);
  }

  /** Runs storage operation `op` of invocation `inv` in a span of its own. */
  async op<T>(op: string, key: string, inv: HostInvocation, f: () => Promise<T>): Promise<T> {
    const span = this.tracing.span(
      `kv.${op}`,
      this.traceparent(inv.id),
      { "db.operation.name": op, "stratus.key": key, "stratus.node": this.node },
      SpanKind.CLIENT,
    );
    try {
      const v = await f();
      this.tracing.end(span);
      return v;
    } catch (e) {
      this.tracing.end(span, e);
      throw e;
    }
  }

  /** `host` with each storage operation in a span. */
  traced(host: HostHandlers): HostHandlers {
    return {
      get: (a, inv) => this.op("get", a[0], inv, () => host.get(a, inv)),
      getLattice: (a, inv) => this.op("getLattice", a[0], inv, () => host.getLattice(a, inv)),
      put: (a, inv) => this.op("put", a[0], inv, () => host.put(a, inv)),
      merge: (a, inv) => this.op("merge", a[0], inv, () => host.merge(a, inv)),
      delete: (a, inv) => this.op("delete", a[0], inv, () => host.delete(a, inv)),
      runId: (a, inv) => host.runId(a, inv),
      send: (a, inv) => host.send(a, inv),
      call: (a, inv) => host.call(a, inv),
      txn: (a, inv) => host.txn(a, inv),
    };
  }
}

/**
 * OpenTelemetry traces: one trace per call or DAG run (a gateway span, one span per function
 * invocation, one per storage operation and nested call), carried between processes as a W3C
 * `traceparent` string in the run's metadata, and exported over OTLP/HTTP (JSON).
 *
 * A process without an endpoint has no {@link Tracing} at all: every place that would trace
 * checks for it and goes on, so tracing off costs one check and makes no span objects.
 */
import type { Attributes, SpanContext } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { InvalidArgumentError } from "../errors/index.js";
import { isTraceparent } from "../protocol/index.js";
import { RecordedSpan, newSpanId, newTraceId } from "./span.js";

/** A span of a run, as the dispatcher and the nodes hold it. */
export type Span = RecordedSpan;
export { isTraceparent };

/** What a span is to its trace (OpenTelemetry's SpanKind values, without loading the API). */
export const SpanKind = { INTERNAL: 0, SERVER: 1, CLIENT: 2 } as const;

/** Options of {@link Tracing.start}. */
export interface TracingOptions {
  /**
   * The OTLP/HTTP collector: its base URL (`http://collector:4318`, spans go to `/v1/traces`)
   * or the full traces URL.
   */
  endpoint: string;
  /** This process's id (`service.instance.id`). */
  instance: string;
  /** `service.name`. @default "stratus" */
  service?: string;
  /** How often finished spans are sent, in ms. @default 1000 */
  exportEveryMs?: number;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The remote parent a `traceparent` names, if it is one. */
function parentContext(tp: string | undefined): SpanContext | undefined {
  if (tp === undefined) return undefined;
  const m = TRACEPARENT.exec(tp);
  if (m === null) return undefined;
  const [, traceId, spanId, flags] = m as unknown as [string, string, string, string];
  return { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
}

/** OpenTelemetry's `SpanStatusCode.ERROR`. */
const STATUS_ERROR = 2;
/** OpenTelemetry's `TraceFlags.SAMPLED`: a new trace is sampled, a remote parent decides. */
const SAMPLED = 1;

/** The trace endpoint's URL, checked. */
function tracesUrl(endpoint: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw InvalidArgumentError.field("otlpEndpoint", `not a URL: ${endpoint.slice(0, 200)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw InvalidArgumentError.field("otlpEndpoint", "must be an http:// or https:// URL");
  }
  return u.pathname.endsWith("/v1/traces")
    ? u.href
    : new URL("v1/traces", `${u.href.replace(/\/?$/, "/")}`).href;
}

/**
 * A process's tracer and exporter.
 *
 * @example
 * ```ts
 * const tracing = Tracing.start({ endpoint: "http://127.0.0.1:4318", instance: "n1" });
 * const span = tracing.span("call inc", undefined, { "stratus.run": run });
 * meta.tp = tracing.traceparent(span); // children on other nodes name it as their parent
 * span.end();
 * await tracing.close(); // sends what is left
 * ```
 */
export class Tracing {
  private constructor(
    private readonly processor: SpanProcessor,
    private readonly resource: Resource,
  ) {}

  /**
   * Starts exporting to `o.endpoint`; throws `INVALID_ARGUMENT` for a bad URL. The SDK is loaded
   * here, so a process (or a client) that never traces never loads it. Spans are recorded by
   * Stratus ({@link RecordedSpan}) and batched and exported by the SDK's `BatchSpanProcessor`
   * and OTLP/HTTP exporter.
   */
  static async start(o: TracingOptions): Promise<Tracing> {
    const url = tracesUrl(o.endpoint);
    const [{ OTLPTraceExporter }, { resourceFromAttributes }, sdk, semconv] = await Promise.all([
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/semantic-conventions"),
    ]);
    const { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME } = semconv;
    const resource = resourceFromAttributes({
      [ATTR_SERVICE_NAME]: o.service ?? "stratus",
      [ATTR_SERVICE_INSTANCE_ID]: o.instance,
    });
    // Bounded: past 16,384 spans waiting (an unreachable collector, or a burst faster than
    // export), new spans are dropped rather than held.
    const processor = new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url }), {
      scheduledDelayMillis: o.exportEveryMs ?? 1000,
      maxQueueSize: 16_384,
      maxExportBatchSize: 2048,
    });
    return new Tracing(processor, resource);
  }

  /**
   * Starts a span, a child of the span `parent` names (a `traceparent`), else a new trace's
   * root. The span takes `attributes` as its own (its `setAttribute` adds to it).
   */
  span(
    name: string,
    parent: string | undefined,
    attributes: Attributes,
    kind: number = SpanKind.INTERNAL,
  ): Span {
    const up = parentContext(parent);
    const context: SpanContext = {
      traceId: up?.traceId ?? newTraceId(),
      spanId: newSpanId(),
      // A caller's unsampled trace stays unsampled: the processor drops its spans.
      traceFlags: up === undefined ? SAMPLED : up.traceFlags & SAMPLED,
    };
    // The span keeps `attributes` (every caller passes a fresh literal): no copy per span.
    return new RecordedSpan(name, kind, attributes, context, up, this.resource, this.processor);
  }

  /** The `traceparent` that names `span` as a parent. */
  traceparent(span: Span): string {
    const c = span.spanContext();
    return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
  }

  /** Ends `span`, marking it failed with `error` when there is one. */
  end(span: Span, error?: unknown): void {
    if (error !== undefined) {
      const e = error as { code?: unknown; message?: unknown };
      const message = typeof e.message === "string" ? e.message : "failed";
      span.setStatus({ code: STATUS_ERROR, message });
      if (typeof e.code === "string") span.setAttribute("stratus.error.code", e.code);
    }
    span.end();
  }

  /** Sends the finished spans now. */
  flush(): Promise<void> {
    return this.processor.forceFlush();
  }

  /** Sends what is left and stops. */
  close(): Promise<void> {
    return this.processor.shutdown();
  }
}

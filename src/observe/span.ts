/**
 * The spans Stratus records: plain objects in the shape of the OpenTelemetry SDK's
 * `ReadableSpan`, handed at their end to the SDK's own `BatchSpanProcessor` and OTLP exporter.
 *
 * Why not the SDK's tracer: at a sequential cross-node DAG's rate (a run every 1-1.5 ms), each
 * `startSpan` cost about 20 us of a process's main thread (sampler, id generator, attribute
 * limits, the tracer's own metrics, time-origin arithmetic), three spans a run on the critical
 * path, and a traced run took 1.16-1.20x an untraced one with no span processor at all (1.05
 * with spans that were never made). A span here is one small object and two clock reads; what
 * it becomes on the wire is still the SDK's work, off the critical path, once a second.
 */
import type {
  Attributes,
  AttributeValue,
  HrTime,
  SpanContext,
  SpanStatus,
} from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";

/** The scope every span names: this package. */
const SCOPE = { name: "stratus" };

/** Epoch milliseconds (fractional) as OpenTelemetry's [seconds, nanoseconds]. */
function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  // Floored: rounding could give 1e9 nanoseconds, which OTLP readers refuse.
  return [s, Math.floor((ms - s * 1000) * 1e6)];
}

/** Random lowercase hex of `bytes` bytes, never all zeros (an invalid id). */
function randomHex(bytes: number): string {
  let out = "";
  for (let i = 0; i < bytes; i += 4) {
    out += ((Math.random() * 0x100000000) >>> 0).toString(16).padStart(8, "0");
  }
  out = out.slice(0, bytes * 2);
  return /^0+$/.test(out) ? randomHex(bytes) : out;
}

/** A fresh trace id (32 hex digits). */
export function newTraceId(): string {
  return randomHex(16);
}

/** A fresh span id (16 hex digits). */
export function newSpanId(): string {
  return randomHex(8);
}

/**
 * One span, from its start to its end, then the SDK's to export. Only what Stratus sets is
 * settable: attributes and the status; events and links stay empty.
 *
 * @example
 * ```ts
 * const span = new RecordedSpan("call inc", 1, {}, context, undefined, resource, processor);
 * span.setAttribute("stratus.attempts", 1);
 * span.end(); // handed to the processor, which batches and exports it
 * ```
 */
export class RecordedSpan implements ReadableSpan {
  readonly links = [];
  readonly events = [];
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly instrumentationScope = SCOPE;
  status: SpanStatus = { code: 0 };
  ended = false;
  private readonly startMs = performance.timeOrigin + performance.now();
  private endMs = 0;

  constructor(
    readonly name: string,
    readonly kind: number,
    readonly attributes: Attributes,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly resource: Resource,
    private readonly processor: SpanProcessor,
  ) {}

  spanContext(): SpanContext {
    return this.context;
  }

  get startTime(): HrTime {
    return hrTime(this.startMs);
  }

  get endTime(): HrTime {
    return hrTime(this.endMs);
  }

  get duration(): HrTime {
    return hrTime(Math.max(0, this.endMs - this.startMs));
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended) this.attributes[key] = value;
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.ended) this.status = status;
    return this;
  }

  /** Ends the span (once) and hands it to the processor. */
  end(): void {
    if (this.ended) return;
    this.endMs = performance.timeOrigin + performance.now();
    this.ended = true;
    this.processor.onEnd(this);
  }
}

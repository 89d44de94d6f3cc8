/**
 * An OTLP/HTTP trace receiver on loopback for tests and benchmarks: a node:http server that
 * takes the JSON export (`POST /v1/traces`) and keeps every span with its resource's attributes.
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One received span, its attributes flattened to plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  /** `service.instance.id` of the process that sent it. */
  instance: unknown;
  status: unknown;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type OtlpAttr = { key: string; value: OtlpValue };

function plain(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

const attrs = (list: OtlpAttr[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));

/** Collects the spans exported to it. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests received, and bytes in them. */
  requests = 0;
  bytes = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    const r: OtlpReceiver = new OtlpReceiver(
      createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const body = Buffer.concat(chunks);
          r.requests++;
          r.bytes += body.length;
          try {
            r.take(JSON.parse(body.toString()) as unknown);
            res.writeHead(200, { "content-type": "application/json" }).end("{}");
          } catch {
            res.writeHead(400).end();
          }
        });
      }),
    );
    await new Promise<void>((resolve) => r.server.listen(0, "127.0.0.1", resolve));
    return r;
  }

  /** `http://127.0.0.1:port`: what `--otlp-endpoint` takes. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private take(body: unknown): void {
    const rs = (body as { resourceSpans?: unknown[] }).resourceSpans ?? [];
    for (const r of rs as { resource?: { attributes?: OtlpAttr[] }; scopeSpans?: unknown[] }[]) {
      const instance = attrs(r.resource?.attributes)["service.instance.id"];
      for (const ss of (r.scopeSpans ?? []) as { spans?: unknown[] }[]) {
        for (const s of (ss.spans ?? []) as Record<string, unknown>[]) {
          const parent = s["parentSpanId"];
          this.spans.push({
            traceId: String(s["traceId"]),
            spanId: String(s["spanId"]),
            parentSpanId: typeof parent === "string" && parent !== "" ? parent : undefined,
            name: String(s["name"]),
            kind: Number(s["kind"]),
            attributes: attrs(s["attributes"] as OtlpAttr[] | undefined),
            instance,
            status: s["status"] ?? {},
          });
        }
      }
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

import { CONSISTENCY_LEVELS } from "../protocol/index.js";
import type { DagDef, FunctionInfo } from "../protocol/index.js";
import {
  ERROR_BODY,
  errorResponses,
  json,
  nameParam,
  paramRefs,
  sharedParameters,
} from "./openapi-parts.js";

/** What the document describes beside the fixed routes: what is registered right now. */
export interface OpenApiCatalog {
  functions: FunctionInfo[];
  dags: DagDef[];
  /** Where clients reach this ingress (`servers[0].url`). */
  serverUrl?: string;
}

type Schema = Record<string, unknown> | boolean;

/** Any JSON value: what a route takes or answers when no schema is known. */
const ANY_JSON: Schema = {};

const runErrors = errorResponses(400, 401, 404, 409, 413, 429, 499, 500, 503, 504);

/**
 * The JSON Schema of a function's argument list. A registered `input` that is an array schema
 * describes the list itself; any other schema describes the one argument.
 */
export function argsSchema(fn: FunctionInfo | undefined): Schema {
  const input = fn?.schema?.input;
  if (input === undefined) return { type: "array", items: ANY_JSON };
  if (typeof input === "object" && input !== null && (input as Schema & object).type === "array") {
    return input as Schema;
  }
  return { type: "array", prefixItems: [input], minItems: 1, maxItems: 1 };
}

/** The JSON Schema of a function's result: its registered `output`, else any JSON. */
export function resultSchema(fn: FunctionInfo | undefined): Schema {
  return (fn?.schema?.output as Schema | undefined) ?? ANY_JSON;
}

const runOptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    consistency: { type: "string", enum: [...CONSISTENCY_LEVELS] },
    timeoutMs: { type: "number", exclusiveMinimum: 0, maximum: 86_400_000 },
    future: { type: "boolean", description: "answer at once with a future id" },
    requestId: {
      type: "string",
      minLength: 1,
      maxLength: 128,
      description: "makes the run exactly-once (read-atomic), as `Idempotency-Key` does",
    },
  },
};

/** 200: `{result}` typed by the function's output schema, or `{future}` when one was asked for. */
function runAnswer(result: Schema): Record<string, unknown> {
  return {
    "200": {
      description: "the result, or a future id when the run was started with `future`",
      content: json({
        oneOf: [
          {
            type: "object",
            required: ["result"],
            additionalProperties: false,
            properties: { result: result },
          },
          { $ref: "#/components/schemas/Future" },
        ],
      }),
    },
    ...runErrors,
  };
}

/** A function's route: its body is the argument list, or `{args, options}`. */
function functionOperation(fn: FunctionInfo | undefined): Record<string, unknown> {
  const args = argsSchema(fn);
  const named = fn !== undefined;
  return {
    post: {
      ...(named && { operationId: `call_${fn.name}` }),
      summary: named ? `Call function ${fn.name}` : "Call a function by name",
      ...(named && fn.schema === undefined
        ? { description: "Registered without a schema: arguments and result are any JSON." }
        : {}),
      parameters: named ? paramRefs : [nameParam("name", "function name"), ...paramRefs],
      requestBody: {
        required: true,
        description: "the arguments as a JSON array, or `{args, options}`",
        content: json({
          oneOf: [
            args,
            {
              type: "object",
              required: ["args"],
              additionalProperties: false,
              properties: { args, options: runOptionsSchema },
            },
          ],
        }),
      },
      responses: runAnswer(resultSchema(fn)),
    },
  };
}

/** Source functions of a DAG (no incoming edge), and its sink when there is exactly one. */
function dagEnds(d: DagDef): { sources: string[]; sink: string | undefined } {
  const hasIn = new Set(d.edges.map(([, to]) => to));
  const hasOut = new Set(d.edges.map(([from]) => from));
  const sinks = d.functions.filter((f) => !hasOut.has(f));
  return { sources: d.functions.filter((f) => !hasIn.has(f)), sink: sinks[0] };
}

/** A DAG's route: `{inputs: {source: args}, options}`, answering the sink's result. */
function dagOperation(d: DagDef | undefined, fns: Map<string, FunctionInfo>): unknown {
  let inputs: Schema = {
    type: "object",
    description: "source function name to its arguments",
    additionalProperties: { type: "array", items: ANY_JSON },
  };
  let result: Schema = ANY_JSON;
  if (d !== undefined) {
    const { sources, sink } = dagEnds(d);
    inputs = {
      type: "object",
      additionalProperties: false,
      properties: Object.fromEntries(sources.map((f) => [f, argsSchema(fns.get(f))])),
    };
    if (sink !== undefined) result = resultSchema(fns.get(sink));
  }
  return {
    post: {
      ...(d !== undefined && { operationId: `dag_${d.name}` }),
      summary: d === undefined ? "Run a DAG by name" : `Run DAG ${d.name}`,
      parameters: d === undefined ? [nameParam("name", "DAG name"), ...paramRefs] : paramRefs,
      requestBody: {
        required: true,
        content: json({
          type: "object",
          additionalProperties: false,
          properties: { inputs, options: runOptionsSchema },
        }),
      },
      responses: runAnswer(result),
    },
  };
}

/**
 * The OpenAPI 3.1 description of the HTTP ingress, served without auth at
 * `GET /v1/openapi.json`. It is built from the catalog on every request, so it follows what is
 * registered: every function has its own route `POST /v1/fn/<name>` and operation `call_<name>`,
 * every DAG `POST /v1/dag/<name>` and `dag_<name>`, typed by the functions' JSON Schemas when
 * they were registered with some (any JSON otherwise). Generic routes by name stay for dynamic
 * use.
 *
 * @example
 * ```ts
 * const doc = openApiDocument({ functions: [inc], dags: [] });
 * Object.keys(doc.paths); // ["/v1/fn/inc", "/v1/fn/{name}", "/v1/dag/{name}", …]
 * ```
 */
export function openApiDocument(
  catalog: OpenApiCatalog = { functions: [], dags: [] },
): { openapi: string; paths: Record<string, unknown> } & Record<string, unknown> {
  const fns = new Map(catalog.functions.map((f) => [f.name, f]));
  const paths: Record<string, unknown> = {};
  for (const f of catalog.functions) paths[`/v1/fn/${f.name}`] = functionOperation(f);
  paths["/v1/fn/{name}"] = functionOperation(undefined);
  for (const d of catalog.dags) paths[`/v1/dag/${d.name}`] = dagOperation(d, fns);
  paths["/v1/dag/{name}"] = dagOperation(undefined, fns);
  Object.assign(paths, fixedPaths());
  return {
    openapi: "3.1.0",
    info: {
      title: "Stratus HTTP ingress",
      version: "1",
      description:
        "Calls functions and DAGs of a Stratus cluster from any language. Values are JSON; " +
        "errors carry the same stable codes as the TypeScript SDK.",
    },
    servers: [{ url: catalog.serverUrl ?? "/" }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "cluster token" } },
      parameters: sharedParameters,
      schemas: {
        Future: {
          type: "object",
          required: ["future"],
          additionalProperties: false,
          properties: { future: { type: "string" } },
        },
        Error: ERROR_BODY,
      },
    },
    paths,
  };
}

function fixedPaths(): Record<string, unknown> {
  const key = nameParam("key", "key; it may contain `/` (e.g. `visits/home`)");
  return {
    "/v1/call/{fn}": {
      post: {
        summary: "Call a function by name (older form of /v1/fn/{name})",
        deprecated: true,
        parameters: [nameParam("fn", "function name"), ...paramRefs],
        requestBody: {
          required: false,
          content: json({
            type: "object",
            additionalProperties: false,
            properties: { args: { type: "array", items: ANY_JSON }, options: runOptionsSchema },
          }),
        },
        responses: runAnswer(ANY_JSON),
      },
    },
    "/v1/futures/{id}": {
      get: {
        summary: "A future's outcome, waiting for it up to timeoutMs",
        parameters: [
          nameParam("id", "future id"),
          {
            name: "timeoutMs",
            in: "query",
            required: false,
            description: "longest wait, capped by the server (default 120000)",
            schema: { type: "integer", minimum: 0 },
          },
        ],
        responses: {
          "200": {
            description: "the result",
            content: json({ type: "object", required: ["result"], properties: { result: {} } }),
          },
          ...errorResponses(400, 401, 404, 499, 500, 503, 504),
        },
      },
    },
    "/v1/runs/{id}/cancel": {
      post: {
        summary: "Cancel a run in flight, by the id of its future (or its run id)",
        parameters: [nameParam("id", "future or run id")],
        responses: {
          "200": {
            description: "cancelled: its caller gets CANCELLED",
            content: json({ type: "object", properties: { cancelled: { const: true } } }),
          },
          ...errorResponses(400, 401, 404),
        },
      },
    },
    "/v1/kv/{key}": {
      get: {
        summary: "Read a key's value (404 NOT_FOUND when it has none)",
        parameters: [key],
        responses: {
          "200": {
            description: "the value",
            content: json({ type: "object", required: ["value"], properties: { value: {} } }),
          },
          ...errorResponses(400, 401, 404, 503),
        },
      },
      put: {
        summary: "Write a key's value (last writer wins)",
        parameters: [key],
        requestBody: {
          required: true,
          content: json({ type: "object", required: ["value"], properties: { value: {} } }),
        },
        responses: {
          "200": { description: "written", content: json({ type: "object" }) },
          ...errorResponses(400, 401, 413, 503),
        },
      },
      delete: {
        summary: "Delete a key",
        parameters: [key],
        responses: {
          "200": { description: "deleted", content: json({ type: "object" }) },
          ...errorResponses(400, 401, 503),
        },
      },
    },
    "/v1/openapi.json": {
      get: {
        summary: "This document",
        security: [],
        responses: {
          "200": { description: "OpenAPI 3.1 document", content: json({ type: "object" }) },
        },
      },
    },
  };
}

import { ERROR_CODES } from "../errors/index.js";

const json = (schema: unknown): unknown => ({ "application/json": { schema } });
const error = { $ref: "#/components/schemas/Error" };
const errors = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(
    statuses.map((s) => [String(s), { description: "error", content: json(error) }]),
  );
const nameParam = (name: string, description: string): unknown => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string", maxLength: 256 },
});
const futureParam = {
  name: "future",
  in: "query",
  required: false,
  description: "`1`: answer at once with a future id instead of waiting for the result",
  schema: { type: "string", enum: ["1", "true"] },
};
const runAnswer = {
  "200": {
    description: "the result, or a future id with `?future=1`",
    content: json({
      oneOf: [{ $ref: "#/components/schemas/Result" }, { $ref: "#/components/schemas/Future" }],
    }),
  },
  ...errors(400, 401, 404, 413, 429, 500, 503, 504),
};

/**
 * The OpenAPI 3 description of the HTTP ingress, served without auth at `GET /v1/openapi.json`.
 *
 * @example
 * ```ts
 * const doc = openApiDocument();
 * Object.keys(doc.paths); // ["/v1/call/{fn}", "/v1/dag/{name}", …]
 * ```
 */
export function openApiDocument(): { openapi: string; paths: Record<string, unknown> } & Record<
  string,
  unknown
> {
  return {
    openapi: "3.0.3",
    info: {
      title: "Stratus HTTP ingress",
      version: "1",
      description:
        "Calls functions and DAGs of a Stratus cluster from any language. Values are JSON; " +
        "errors carry the same stable codes as the TypeScript SDK.",
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "cluster token" } },
      schemas: {
        Result: { type: "object", required: ["result"], properties: { result: {} } },
        Future: {
          type: "object",
          required: ["future"],
          properties: { future: { type: "string" } },
        },
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string", enum: [...ERROR_CODES] },
                message: { type: "string" },
                retryable: { type: "boolean" },
              },
            },
          },
        },
      },
    },
    paths: {
      "/v1/call/{fn}": {
        post: {
          summary: "Call one function",
          parameters: [nameParam("fn", "function name"), futureParam],
          requestBody: {
            content: json({ type: "object", properties: { args: { type: "array", items: {} } } }),
          },
          responses: runAnswer,
        },
      },
      "/v1/dag/{name}": {
        post: {
          summary: "Call a registered DAG",
          parameters: [nameParam("name", "DAG name"), futureParam],
          requestBody: {
            content: json({
              type: "object",
              properties: {
                inputs: {
                  type: "object",
                  description: "function name to its arguments",
                  additionalProperties: { type: "array", items: {} },
                },
              },
            }),
          },
          responses: runAnswer,
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
              content: json({ $ref: "#/components/schemas/Result" }),
            },
            ...errors(400, 401, 500, 503, 504),
          },
        },
      },
      "/v1/kv/{key}": {
        get: {
          summary: "Read a key's value (null when absent)",
          parameters: [nameParam("key", "key")],
          responses: {
            "200": {
              description: "the value",
              content: json({ type: "object", properties: { value: {} } }),
            },
            ...errors(400, 401, 503),
          },
        },
        put: {
          summary: "Write a key's value (last writer wins)",
          parameters: [nameParam("key", "key")],
          requestBody: {
            content: json({ type: "object", required: ["value"], properties: { value: {} } }),
          },
          responses: {
            "200": { description: "written", content: json({ type: "object" }) },
            ...errors(400, 401, 413, 503),
          },
        },
      },
      "/v1/openapi.json": {
        get: {
          summary: "This document",
          security: [],
          responses: {
            "200": { description: "OpenAPI 3 document", content: json({ type: "object" }) },
          },
        },
      },
    },
  };
}

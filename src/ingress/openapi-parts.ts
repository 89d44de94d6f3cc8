import { ERROR_CODES } from "../errors/index.js";
import { CONSISTENCY_LEVELS } from "../protocol/index.js";

/** A JSON media type with `schema`. */
export const json = (schema: unknown): Record<string, unknown> => ({
  "application/json": { schema },
});

/** `{"error": {code, message, retryable}}`: every error answer's body. */
export const ERROR_BODY = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "retryable"],
      properties: {
        code: { type: "string", enum: [...ERROR_CODES] },
        message: { type: "string" },
        retryable: { type: "boolean" },
      },
    },
  },
};

/** Error answers for these statuses. */
export const errorResponses = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      { description: "error", content: json({ $ref: "#/components/schemas/Error" }) },
    ]),
  );

/** A path parameter. */
export const nameParam = (name: string, description: string): Record<string, unknown> => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string", maxLength: 4096 },
});

/** The parameters every run route takes, in `components.parameters`. */
export const sharedParameters = {
  Future: {
    name: "future",
    in: "query",
    required: false,
    description: "`1`: answer at once with a future id instead of waiting for the result",
    schema: { type: "string", enum: ["1", "true"] },
  },
  Consistency: {
    name: "Stratus-Consistency",
    in: "header",
    required: false,
    description: "the run's consistency level (also `?consistency=` or `options.consistency`)",
    schema: { type: "string", enum: [...CONSISTENCY_LEVELS] },
  },
  IdempotencyKey: {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    description:
      "the request id: the run is exactly-once (read-atomic), and a repeated request with the " +
      "same key answers what the first one committed",
    schema: { type: "string", minLength: 1, maxLength: 128 },
  },
};

/** References to {@link sharedParameters}. */
export const paramRefs = Object.keys(sharedParameters).map((k) => ({
  $ref: `#/components/parameters/${k}`,
}));

/**
 * Run-time schemas of a function's arguments and result: any Standard Schema validator (zod,
 * valibot, arktype, …). The client checks a handle's arguments with it before they leave, and
 * registers its JSON Schema (when the validator can describe itself) with the function, for
 * documents such as OpenAPI.
 */
import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidArgumentError } from "../errors/index.js";
import type { FunctionSchema } from "../protocol/index.js";
import { isRef } from "./ref.js";

/**
 * The schemas `register` takes: `input` validates the argument list (a tuple schema, one item per
 * parameter after the ctx), `output` describes the result.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const add = await cloud.register("add", (ctx, a, b) => a + b, {
 *   input: z.tuple([z.number(), z.number()]),
 *   output: z.number(),
 * });
 * await add.call(1, 2); // 3; add.call(1, "2") does not compile, and is INVALID_ARGUMENT at run time
 * ```
 */
export interface SchemaOptions<
  Input extends StandardSchemaV1<unknown[], unknown[]> = StandardSchemaV1<unknown[], unknown[]>,
  Output extends StandardSchemaV1 = StandardSchemaV1,
> {
  input?: Input;
  output?: Output;
}

/** A validator's own JSON Schema of its input or output, or undefined when it has none. */
function jsonSchemaOf(
  schema: StandardSchemaV1 | undefined,
  side: "input" | "output",
): Record<string, unknown> | undefined {
  const props = (schema as Partial<StandardJSONSchemaV1> | undefined)?.["~standard"];
  const convert = props?.jsonSchema?.[side];
  if (typeof convert !== "function") return undefined;
  try {
    return convert({ target: "draft-2020-12" });
  } catch {
    // The validator cannot say this type in JSON Schema (a transform, a custom check): the
    // function is still typed and checked, only its document lacks the schema.
    return undefined;
  }
}

/** The JSON Schemas to register with a function, or undefined when there are none. */
export function functionSchema(options: SchemaOptions): FunctionSchema | undefined {
  for (const [key, s] of [
    ["input", options.input],
    ["output", options.output],
  ] as const) {
    if (s !== undefined && typeof s["~standard"]?.validate !== "function") {
      throw new InvalidArgumentError(`${key} must be a Standard Schema validator (zod, valibot…)`);
    }
  }
  const input = jsonSchemaOf(options.input, "input");
  const output = jsonSchemaOf(options.output, "output");
  if (input === undefined && output === undefined) return undefined;
  return { ...(input !== undefined && { input }), ...(output !== undefined && { output }) };
}

/**
 * Checks `args` with `schema` and returns the validated list (what the validator outputs, e.g.
 * with defaults filled in). A mismatch is `INVALID_ARGUMENT` naming the argument's path. A list
 * holding a reference (`ref(key)`) goes as it is: its value is read on the executor, after this.
 */
export async function checkArgs(
  fn: string,
  schema: StandardSchemaV1<unknown[], unknown[]>,
  args: unknown[],
): Promise<unknown[]> {
  if (!Array.isArray(args) || args.some(isRef)) return args;
  const r = await schema["~standard"].validate(args);
  if (r.issues === undefined) return r.value;
  const first = r.issues[0];
  const keys = (first?.path ?? []).map((p) => (typeof p === "object" ? p.key : p));
  // args[1].a: the argument list is the schema's root.
  const path = keys
    .map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`))
    .join("")
    .replace(/^/, "args");
  throw new InvalidArgumentError(`${fn}: ${path}: ${first?.message ?? "invalid"}`, {
    details: { path, issues: r.issues.length },
  });
}

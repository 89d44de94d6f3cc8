import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStratusError } from "../../src/index.js";
import { checkPayload } from "../../src/protocol/index.js";

describe("protocol: fn.register's schema field", () => {
  const base = { name: "add", source: "(ctx, a, b) => a + b" };

  it("passes JSON Schemas of the input and the output through", () => {
    const schema = { input: { type: "array" }, output: { type: "number" } };
    assert.deepEqual(checkPayload("fn.register", { ...base, schema }).schema, schema);
    assert.deepEqual(checkPayload("fn.register", { ...base, schema: {} }).schema, {});
  });

  it("refuses a schema that is not two JSON Schema objects", () => {
    for (const schema of [
      "number",
      [{ type: "number" }],
      { input: "number" },
      { input: {}, extra: {} },
      null,
    ]) {
      assert.throws(
        () => checkPayload("fn.register", { ...base, schema }),
        (e: unknown) => isStratusError(e) && e.code === "INVALID_ARGUMENT",
        JSON.stringify(schema),
      );
    }
  });
});

/**
 * Every error code through the wire and back: encoded here with toWireError, sent as JSON to a
 * second process that imports nothing but src/errors, rebuilt there with fromWireError, and
 * described back. Each must come back as its own class, with its code, retryable flag, message
 * and details, whichever subsystem raises it (before, BAD_TENSOR or TXN_ABORTED came back as a
 * bare StratusError in a process that had not loaded ml/ or txn/).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import * as errors from "../../src/errors/index.js";
import type { ErrorCode, WireError } from "../../src/errors/index.js";

const { ERROR_CODES, REACTIONS, StratusError, fromWireError, toWireError } = errors;

/** The class each code is raised and rebuilt as. */
const CLASS_OF: Record<ErrorCode, string> = {
  INTERNAL: "StratusError",
  INVALID_ARGUMENT: "InvalidArgumentError",
  INVALID_KEY: "InvalidKeyError",
  VALUE_TOO_LARGE: "ValueTooLargeError",
  LATTICE_TYPE_MISMATCH: "LatticeTypeMismatchError",
  BAD_ENCODING: "BadEncodingError",
  STORAGE_UNAVAILABLE: "StorageUnavailableError",
  CLOSED: "ClosedError",
  TIMEOUT: "TimeoutError",
  UNAUTHORIZED: "UnauthorizedError",
  BAD_FRAME: "BadFrameError",
  BAD_FUNCTION: "BadFunctionError",
  FUNCTION_ERROR: "FunctionError",
  FUNCTION_TIMEOUT: "FunctionTimeoutError",
  FUNCTION_OOM: "FunctionOomError",
  NO_SUCH_FUNCTION: "NoSuchFunctionError",
  NO_SUCH_DAG: "NoSuchDagError",
  BAD_DAG: "BadDagError",
  NO_RESOURCES: "NoResourcesError",
  NODE_LOST: "NodeLostError",
  OVERLOADED: "OverloadedError",
  BAD_FLOW: "BadFlowError",
  SCHEMA_MISMATCH: "SchemaMismatchError",
  UNKNOWN_COLUMN: "UnknownColumnError",
  BAD_TENSOR: "BadTensorError",
  NO_SUCH_MODEL: "NoSuchModelError",
  TXN_ABORTED: "TxnAbortedError",
  TXN_FENCED: "TxnFencedError",
  CANCELLED: "CancelledError",
  SNAPSHOT_CONFLICT: "SnapshotConflictError",
  NOT_FOUND: "NotFoundError",
};

type ErrorCtor = new (message: string, options?: errors.ErrorOptions) => errors.StratusError;

/** An error of `code` as its subsystem raises it, with `retryable` left to the class or given. */
function raise(code: ErrorCode, retryable?: boolean): errors.StratusError {
  const options: errors.ErrorOptions = { details: { code, n: 1, nested: { k: [1, "x"] } } };
  if (retryable !== undefined) options.retryable = retryable;
  if (code === "INTERNAL") return new StratusError(code, `an ${code}`, options);
  const ctor = (errors as unknown as Record<string, ErrorCtor>)[CLASS_OF[code]];
  assert.ok(ctor, `src/errors exports ${CLASS_OF[code]}`);
  return new ctor(`an ${code}`, options);
}

/** What the other process saw, per wire error. */
interface Seen {
  ctor: string;
  name: string;
  ownClass: boolean;
  base: boolean;
  code: string;
  retryable: boolean;
  message: string;
  details: unknown;
}

/** Decodes `wires` in a fresh process whose only import is src/errors. */
async function decodeElsewhere(wires: WireError[]): Promise<Seen[]> {
  const index = join(import.meta.dirname, "..", "..", "src", "errors", "index.ts");
  const script = `
    import * as errors from ${JSON.stringify(index)};
    const wires = JSON.parse(process.argv[1]);
    const seen = wires.map((w) => {
      const e = errors.fromWireError(w);
      const own = errors[e.constructor.name];
      return {
        ctor: e.constructor.name,
        name: e.name,
        ownClass: typeof own === "function" && e instanceof own,
        base: e instanceof errors.StratusError && errors.isStratusError(e),
        code: e.code,
        retryable: e.retryable,
        message: e.message,
        details: e.details,
      };
    });
    process.stdout.write(JSON.stringify(seen));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script, JSON.stringify(wires)],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout) as Seen[];
}

describe("errors over the wire", () => {
  it("every code has a class in src/errors and a reaction", () => {
    for (const code of ERROR_CODES) {
      assert.ok(code in CLASS_OF, `${code} has an expected class`);
      assert.ok(["retry", "relaunch", "fail"].includes(REACTIONS[code]), code);
      assert.equal(raise(code).code, code);
    }
    assert.equal(Object.keys(CLASS_OF).length, ERROR_CODES.length);
  });

  it("every code comes back from another process as its own class, code, retryable and details", async () => {
    // Each code three times: retryable as its class makes it, then forced each way.
    const sent = ERROR_CODES.flatMap((code) => [
      raise(code),
      raise(code, true),
      raise(code, false),
    ]);
    for (const e of sent.filter((_, i) => i % 3 === 0)) {
      assert.equal(e.retryable, REACTIONS[e.code] !== "fail", `${e.code}: the class default`);
    }
    const wires = sent.map((e) => JSON.parse(JSON.stringify(toWireError(e))) as WireError);
    const seen = await decodeElsewhere(wires);
    assert.equal(seen.length, sent.length);
    sent.forEach((e, i) => {
      const s = seen[i]!;
      const what = `${e.code} (retryable ${e.retryable})`;
      assert.equal(s.ctor, CLASS_OF[e.code], what);
      assert.equal(s.name, CLASS_OF[e.code], what);
      assert.ok(s.ownClass && s.base, what);
      assert.equal(s.code, e.code, what);
      assert.equal(s.retryable, e.retryable, what);
      assert.equal(s.message, e.message, what);
      assert.deepEqual(s.details, e.details, what);
    });
    // And in this process too, the same way.
    for (const [i, w] of wires.entries()) {
      const back = fromWireError(w);
      assert.equal(back.constructor.name, CLASS_OF[w.code]);
      assert.equal(back.retryable, sent[i]!.retryable);
    }
  });

  it("an unknown code or a malformed wire error comes back as INTERNAL, not retryable", () => {
    for (const w of [{ code: "NOPE", message: "m", retryable: true }, null, "x", { code: 7 }]) {
      const e = fromWireError(w);
      assert.equal(e.code, "INTERNAL");
      assert.ok(e instanceof StratusError);
    }
    assert.equal(fromWireError({ code: "NOPE", message: "m" }).retryable, false);
  });
});

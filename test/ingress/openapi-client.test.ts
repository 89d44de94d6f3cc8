/**
 * A client in another stack, built from the live OpenAPI document as its users would build it:
 * `openapi-typescript` generates the types, `openapi-fetch` calls the function's own route, and
 * the TypeScript compiler proves the argument and result types are the function's (and that a
 * wrong argument does not compile). The function's JSON Schema is given through the raw
 * `fn.register` payload's `schema` field: the SDK's `register` takes no schema on this branch.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import createClient from "openapi-fetch";
import openapiTS, { astToString } from "openapi-typescript";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { request } from "../../src/protocol/index.js";
import { connect } from "../../src/wire/index.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

/** Type assertions the fixture makes; `tsc` fails the test when one does not hold. */
const FIXTURE = `
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:1" });

export async function typed(): Promise<void> {
  const { data } = await client.POST("/v1/fn/double", { body: [21] });
  if (data !== undefined && "result" in data) {
    const isNumber: Equal<typeof data.result, number> = true;
    void isNumber;
  }
  const wrapped = await client.POST("/v1/fn/double", {
    body: { args: [2], options: { consistency: "causal" } },
  });
  void wrapped;
  // @ts-expect-error a string is not the function's argument
  await client.POST("/v1/fn/double", { body: ["twenty-one"] });
  // openapi-fetch's POST lets a literal [] through its inference, so the missing argument is
  // checked on the generated body type itself.
  type Body = paths["/v1/fn/double"]["post"]["requestBody"]["content"]["application/json"];
  // @ts-expect-error nor is a missing argument
  const none: Body = [];
  void none;
  // @ts-expect-error nor an unknown consistency level
  await client.POST("/v1/fn/double", { body: { args: [1], options: { consistency: "strong" } } });
  // A function registered without a schema takes and answers any JSON.
  const { data: echoed } = await client.POST("/v1/fn/echo", { body: ["anything", 1] });
  if (echoed !== undefined && "result" in echoed) {
    const isUnknown: Equal<typeof echoed.result, unknown> = true;
    void isUnknown;
  }
}
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    noUncheckedIndexedAccess: true,
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2022",
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
  files: ["client.ts"],
};

describe("ingress: an openapi-typescript client of the live document", () => {
  const token = "openapi-token";
  let proc: StratusProcess;
  let base: string;
  let dir: string;

  before(async () => {
    proc = await StratusProcess.start({ token, executors: 1, httpPort: 0 });
    base = proc.httpUrl ?? assert.fail("no http url");
    const conn = await connect(proc.url, { token, role: "client", id: "openapi-test" });
    try {
      await request(conn, "fn.register", {
        name: "double",
        source: "(ctx, x) => x * 2",
        schema: {
          input: {
            type: "array",
            prefixItems: [{ type: "number" }],
            items: false,
            minItems: 1,
            maxItems: 1,
          },
          output: { type: "number" },
        },
      });
    } finally {
      await conn.close();
    }
    const cloud = await Stratus.connect(proc.url, { token });
    await cloud.register("echo", (_ctx, ...xs: unknown[]) => xs);
    await cloud.close();
    // Inside the repository, so the fixture resolves openapi-fetch from its node_modules.
    await mkdir(join(root, "node_modules", ".cache"), { recursive: true });
    dir = await mkdtemp(join(root, "node_modules", ".cache", "stratus-openapi-"));
  });
  after(async () => {
    await proc.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("generates types whose arguments and results are the function's, and calls it", async () => {
    const res = await fetch(`${base}/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    const ast = await openapiTS(doc as unknown as Parameters<typeof openapiTS>[0]);
    await writeFile(join(dir, "schema.d.ts"), astToString(ast));
    await writeFile(join(dir, "client.ts"), FIXTURE);
    await writeFile(join(dir, "package.json"), '{"type": "module"}\n');
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG));
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const checked = await run(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")]).then(
      () => "",
      (e: Error & { stdout?: string }) => e.stdout ?? e.message,
    );
    assert.equal(checked, "", "the fixture's type assertions hold");

    // The same route, called for real through openapi-fetch (untyped here: tsx does not check).
    const client = createClient<Record<string, never>>({
      baseUrl: base,
      headers: { Authorization: `Bearer ${token}` },
    });
    const post = client.POST as unknown as (
      path: string,
      init: { body: unknown; headers?: Record<string, string> },
    ) => Promise<{ data?: unknown; response: Response }>;
    const called = await post("/v1/fn/double", { body: [21] });
    assert.equal(called.response.status, 200);
    assert.deepEqual(called.data, { result: 42 });
    const leveled = await post("/v1/fn/double", {
      body: { args: [4], options: { consistency: "causal" } },
    });
    assert.deepEqual(leveled.data, { result: 8 });
  });

  it("fails to compile a wrong argument (the control of the assertions above)", async () => {
    const bad = FIXTURE.replace(
      "// @ts-expect-error a string is not the function's argument\n",
      "",
    );
    await writeFile(join(dir, "client.ts"), bad);
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const out = await run(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")]).then(
      () => "",
      (e: Error & { stdout?: string }) => e.stdout ?? e.message,
    );
    assert.match(out, /client\.ts\(\d+,\d+\): error TS2322/);
  });
});

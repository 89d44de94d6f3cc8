/**
 * HTTP ingress, driven by curl as a client in another language would: calls, DAG calls, futures,
 * keys, auth, error statuses and the OpenAPI document, against an in-process cluster.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";

const run = promisify(execFile);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One curl request; answers the HTTP status and the parsed JSON body. */
async function curl(url: string, args: string[] = []): Promise<Answer> {
  const { stdout } = await run("curl", ["-sS", "-w", "\n%{http_code}", ...args, url], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const cut = stdout.lastIndexOf("\n");
  const status = Number(stdout.slice(cut + 1));
  const text = stdout.slice(0, cut);
  return { status, body: (text.length > 0 ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe("ingress: HTTP", () => {
  const token = "http-token";
  const auth = ["-H", `Authorization: Bearer ${token}`];
  const post = (body: string): string[] => [
    ...auth,
    "-H",
    "Content-Type: application/json",
    "--data-binary",
    body,
  ];
  let proc: StratusProcess;
  let base: string;
  let dir: string;

  before(async () => {
    proc = await StratusProcess.start({ token, executors: 2, httpPort: 0 });
    base = proc.httpUrl ?? assert.fail("no http url");
    const cloud = await Stratus.connect(proc.url, { token });
    await cloud.register("inc", (_ctx, x: number) => x + 1);
    await cloud.register("square", (_ctx, x: number) => x * x);
    await cloud.register("boom", () => {
      throw new Error("kaboom");
    });
    await cloud.register(
      "forever",
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => reject(new Error("stopped")));
        }),
    );
    await cloud.registerDag("pipeline", {
      functions: ["inc", "square"],
      edges: [["inc", "square"]],
    });
    await cloud.close();
    dir = await mkdtemp(join(tmpdir(), "stratus-http-"));
  });
  after(async () => {
    await proc.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("calls a function", async () => {
    const a = await curl(`${base}/v1/call/inc`, post('{"args": [41]}'));
    assert.deepEqual(a, { status: 200, body: { result: 42 } });
  });

  it("calls a DAG", async () => {
    const a = await curl(`${base}/v1/dag/pipeline`, post('{"inputs": {"inc": [2]}}'));
    assert.deepEqual(a, { status: 200, body: { result: 9 } });
  });

  it("starts a future, then reads its outcome", async () => {
    const started = await curl(`${base}/v1/call/square?future=1`, post('{"args": [7]}'));
    assert.equal(started.status, 200);
    const id = started.body.future;
    assert.equal(typeof id, "string");
    const got = await curl(`${base}/v1/futures/${String(id)}?timeoutMs=30000`, auth);
    assert.deepEqual(got, { status: 200, body: { result: 49 } });
  });

  it("writes and reads a key", async () => {
    const put = await curl(`${base}/v1/kv/greeting`, [
      ...post('{"value": {"hi": [1, 2]}}'),
      "-X",
      "PUT",
    ]);
    assert.equal(put.status, 200);
    const got = await curl(`${base}/v1/kv/greeting`, auth);
    assert.deepEqual(got, { status: 200, body: { value: { hi: [1, 2] } } });
  });

  it("answers 401 without a token and with a wrong one", async () => {
    const none = await curl(`${base}/v1/call/inc`, ["--data-binary", '{"args": [1]}']);
    assert.equal(none.status, 401);
    assert.equal((none.body.error as { code: string }).code, "UNAUTHORIZED");
    const wrong = await curl(`${base}/v1/call/inc`, [
      "-H",
      "Authorization: Bearer not-the-token",
      "--data-binary",
      '{"args": [1]}',
    ]);
    assert.equal(wrong.status, 401);
    assert.equal((wrong.body.error as { code: string }).code, "UNAUTHORIZED");
  });

  it("answers 404 for an unknown function and an unknown route", async () => {
    const fn = await curl(`${base}/v1/call/nope`, post('{"args": []}'));
    assert.equal(fn.status, 404);
    assert.equal((fn.body.error as { code: string }).code, "NO_SUCH_FUNCTION");
    for (const path of ["/v2/whatever", "/v1/fn", "/v1/fn/inc/extra", "/v1/kv"]) {
      const route = await curl(`${base}${path}`, auth);
      assert.equal(route.status, 404, path);
      assert.equal((route.body.error as { code: string }).code, "NOT_FOUND", path);
    }
  });

  it("calls a function by its own route, with a bare array or {args, options}", async () => {
    const bare = await curl(`${base}/v1/fn/inc`, post("[41]"));
    assert.deepEqual(bare, { status: 200, body: { result: 42 } });
    const wrapped = await curl(
      `${base}/v1/fn/inc`,
      post('{"args": [1], "options": {"consistency": "causal", "timeoutMs": 30000}}'),
    );
    assert.deepEqual(wrapped, { status: 200, body: { result: 2 } });
    const badLevel = await curl(
      `${base}/v1/fn/inc`,
      post('{"args": [1], "options": {"consistency": "nope"}}'),
    );
    assert.equal(badLevel.status, 400);
    assert.match((badLevel.body.error as { message: string }).message, /consistency/);
    const conflict = await curl(`${base}/v1/fn/inc`, [
      ...post('{"args": [1], "options": {"consistency": "causal"}}'),
      "-H",
      "Stratus-Consistency: lww",
    ]);
    assert.equal(conflict.status, 400);
  });

  it("chooses the level by header and makes a run exactly-once with Idempotency-Key", async () => {
    const level = await curl(`${base}/v1/fn/inc`, [
      ...post("[1]"),
      "-H",
      "Stratus-Consistency: causal",
    ]);
    assert.deepEqual(level, { status: 200, body: { result: 2 } });
    const bad = await curl(`${base}/v1/fn/inc`, [
      ...post("[1]"),
      "-H",
      "Stratus-Consistency: nope",
    ]);
    assert.equal(bad.status, 400);
    const once = [...post("[5]"), "-H", "Idempotency-Key: http-once-1"];
    assert.deepEqual(await curl(`${base}/v1/fn/inc`, once), { status: 200, body: { result: 6 } });
    assert.deepEqual(await curl(`${base}/v1/fn/inc`, once), { status: 200, body: { result: 6 } });
    const inDag = await curl(`${base}/v1/dag/pipeline`, [
      ...post('{"inputs": {"inc": [2]}, "options": {"consistency": "causal"}}'),
    ]);
    assert.deepEqual(inDag, { status: 200, body: { result: 9 } });
  });

  it("answers 405 with Allow for a wrong method", async () => {
    const { stdout } = await run("curl", ["-sS", "-i", ...auth, `${base}/v1/fn/inc`]);
    assert.match(stdout, /^HTTP\/1\.1 405/);
    assert.match(stdout, /\r\nAllow: POST\r\n/i);
    const kv = await curl(`${base}/v1/kv/a`, [...auth, "-X", "POST"]);
    assert.equal(kv.status, 405);
    assert.equal((kv.body.error as { code: string }).code, "INVALID_ARGUMENT");
  });

  it("reads, writes and deletes keys with / in them; a missing key is 404 NOT_FOUND", async () => {
    const put = await curl(`${base}/v1/kv/visits/home`, [...post('{"value": 3}'), "-X", "PUT"]);
    assert.equal(put.status, 200);
    assert.deepEqual(await curl(`${base}/v1/kv/visits/home`, auth), {
      status: 200,
      body: { value: 3 },
    });
    // The encoded form names the same key.
    assert.deepEqual(await curl(`${base}/v1/kv/visits%2Fhome`, auth), {
      status: 200,
      body: { value: 3 },
    });
    const del = await curl(`${base}/v1/kv/visits/home`, [...auth, "-X", "DELETE"]);
    assert.equal(del.status, 200);
    const gone = await curl(`${base}/v1/kv/visits/home`, auth);
    assert.equal(gone.status, 404);
    assert.equal((gone.body.error as { code: string }).code, "NOT_FOUND");
    const never = await curl(`${base}/v1/kv/never/written`, auth);
    assert.equal(never.status, 404);
  });

  it("cancels a run by its future id", async () => {
    const started = await curl(`${base}/v1/fn/forever?future=1`, post("[]"));
    const id = String(started.body.future);
    const cancelled = await curl(`${base}/v1/runs/${id}/cancel`, [...auth, "-X", "POST"]);
    assert.deepEqual(cancelled, { status: 200, body: { cancelled: true } });
    const outcome = await curl(`${base}/v1/futures/${id}?timeoutMs=30000`, auth);
    assert.equal((outcome.body.error as { code: string }).code, "CANCELLED");
    // The caller gave up: no server fault (was 500).
    assert.equal(outcome.status, 499);
    const again = await curl(`${base}/v1/runs/${id}/cancel`, [...auth, "-X", "POST"]);
    assert.equal(again.status, 404);
    assert.equal((again.body.error as { code: string }).code, "NOT_FOUND");
  });

  it("answers 404 NOT_FOUND at once for an unknown future", async () => {
    const a = await curl(
      `${base}/v1/futures/00000000-0000-4000-8000-000000000000?timeoutMs=60000`,
      auth,
    );
    assert.equal(a.status, 404);
    assert.equal((a.body.error as { code: string }).code, "NOT_FOUND");
  });

  it("answers 400 for malformed JSON and unexpected keys", async () => {
    const bad = await curl(`${base}/v1/call/inc`, post('{"args": [1'));
    assert.equal(bad.status, 400);
    assert.equal((bad.body.error as { code: string }).code, "INVALID_ARGUMENT");
    const extra = await curl(`${base}/v1/call/inc`, post('{"argz": [1]}'));
    assert.equal(extra.status, 400);
    const escape = await curl(`${base}/v1/call/%E0%A4%A`, post('{"args": [1]}'));
    assert.equal(escape.status, 400);
    const proto = await curl(`${base}/v1/dag/pipeline`, post('{"inputs": {"__proto__": [1]}}'));
    assert.equal(proto.status, 400);
  });

  it("answers 500 FUNCTION_ERROR when the function throws", async () => {
    const a = await curl(`${base}/v1/call/boom`, post('{"args": []}'));
    assert.equal(a.status, 500);
    const e = a.body.error as { code: string; message: string };
    assert.equal(e.code, "FUNCTION_ERROR");
    assert.match(e.message, /kaboom/);
  });

  it("answers 413 for a body over 64 MiB, declared or streamed, and keeps serving", async () => {
    const file = join(dir, "big.json");
    await writeFile(file, Buffer.alloc(64 * 1024 * 1024 + 16, 0x20));
    const declared = await curl(`${base}/v1/call/inc`, post(`@${file}`));
    assert.equal(declared.status, 413);
    assert.equal((declared.body.error as { code: string }).code, "VALUE_TOO_LARGE");
    const streamed = await curl(`${base}/v1/call/inc`, [
      ...post(`@${file}`),
      "-H",
      "Transfer-Encoding: chunked",
    ]);
    assert.equal(streamed.status, 413);
    const after = await curl(`${base}/v1/call/inc`, post('{"args": [1]}'));
    assert.deepEqual(after, { status: 200, body: { result: 2 } });
  });

  it("serves an OpenAPI 3 document without auth that lists the routes", async () => {
    const a = await curl(`${base}/v1/openapi.json`);
    assert.equal(a.status, 200);
    assert.match(String(a.body.openapi), /^3\./);
    const paths = Object.keys(a.body.paths as object);
    for (const p of ["/v1/fn/{name}", "/v1/dag/{name}", "/v1/futures/{id}", "/v1/kv/{key}"]) {
      assert.ok(paths.includes(p), `${p} listed`);
    }
    // What is registered has its own routes and operations, and the document follows it.
    type Op = { operationId?: string; requestBody?: { required?: boolean } };
    const ops = a.body.paths as Record<string, { post?: Op }>;
    assert.equal(ops["/v1/fn/inc"]?.post?.operationId, "call_inc");
    assert.equal(ops["/v1/fn/inc"]?.post?.requestBody?.required, true);
    assert.equal(ops["/v1/dag/pipeline"]?.post?.operationId, "dag_pipeline");
    assert.deepEqual(a.body.servers, [{ url: base }]);
    const cloud = await Stratus.connect(proc.url, { token });
    await cloud.register("later", (_ctx, x: number) => x);
    await cloud.close();
    const again = await curl(`${base}/v1/openapi.json`);
    assert.ok(Object.hasOwn(again.body.paths as object, "/v1/fn/later"));
  });
});

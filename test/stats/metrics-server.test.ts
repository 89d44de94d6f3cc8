/**
 * The metrics server with a certificate: `/metrics` over HTTPS only, to holders of the token,
 * so the token a scraper sends never crosses the network in the clear; `/healthz` for probes.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StratusProcess, serveMetrics } from "../../src/cluster/index.js";
import { selfSignedCert } from "../../testing/certs.js";

const TOKEN = "metrics-token";

describe("stats: the metrics server under TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "stratus-metrics-"));
  let proc: StratusProcess;
  let server: Awaited<ReturnType<typeof serveMetrics>>;
  let ca: Buffer;
  let port = 0;

  before(async () => {
    const { certFile, keyFile } = selfSignedCert(dir);
    ca = readFileSync(certFile);
    proc = await StratusProcess.start({ token: TOKEN, executors: 1 });
    server = await serveMetrics(proc, {
      port: 0,
      token: TOKEN,
      tls: { cert: ca, key: readFileSync(keyFile) },
    });
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.close();
    await proc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** GET `path` over HTTPS trusting the test CA; resolves with the status and body. */
  async function get(path: string, token?: string): Promise<{ status: number; body: string }> {
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const req = httpsRequest({ host: "127.0.0.1", port, path, ca, headers });
    req.end();
    const [res] = (await once(req, "response")) as [IncomingMessage];
    let body = "";
    for await (const chunk of res) body += String(chunk);
    return { status: res.statusCode ?? 0, body };
  }

  it("serves /metrics over HTTPS with the token, 401 without", async () => {
    const ok = await get("/metrics", TOKEN);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^stratus_runs_started_total\{/m);
    assert.equal((await get("/metrics")).status, 401);
    assert.equal((await get("/metrics", "wrong")).status, 401);
    const health = await get("/healthz");
    assert.equal(health.status, 200);
    assert.equal(health.body, "ok\n");
  });

  it("does not answer plain HTTP, which would carry the token in the clear", async () => {
    const req = httpRequest({
      host: "127.0.0.1",
      port,
      path: "/metrics",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    req.end();
    // `once` rejects on 'error': the TLS listener drops a plain request without an answer.
    const outcome = await once(req, "response").then(
      () => "answered",
      (e: Error) => `refused: ${e.message}`,
    );
    assert.match(outcome, /^refused/);
  });
});

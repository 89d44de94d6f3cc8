/**
 * HTTPS ingress: a process started with the cluster certificate serves the HTTP ingress over TLS;
 * curl trusting the certificate calls through it, and a plain-HTTP request does not get an
 * answer from it (the control: the ingress really is TLS). The certificate is self-signed, made
 * here with the openssl CLI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Stratus } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { selfSignedCert } from "../../testing/certs.js";

const run = promisify(execFile);

describe("ingress: HTTPS", () => {
  const token = "https-token";
  const dir = mkdtempSync(join(tmpdir(), "stratus-https-"));
  const { certFile, keyFile } = selfSignedCert(dir);
  let proc: StratusProcess;

  before(async () => {
    proc = await StratusProcess.start({
      token,
      executors: 1,
      httpPort: 0,
      tls: { certFile, keyFile },
    });
    const cloud = await Stratus.connect(proc.url, { token, tls: { ca: readFileSync(certFile) } });
    await cloud.register("inc", (_ctx, x: number) => x + 1);
    await cloud.close();
  });
  after(async () => {
    await proc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers over HTTPS and not over plain HTTP", async () => {
    const url = proc.httpUrl ?? assert.fail("no http url");
    assert.match(url, /^https:\/\//);
    const args = ["-sS", "-H", `Authorization: Bearer ${token}`, "--data-binary", '{"args":[1]}'];
    const { stdout } = await run("curl", [...args, "--cacert", certFile, `${url}/v1/call/inc`]);
    assert.deepEqual(JSON.parse(stdout), { result: 2 });
    const plain = url.replace(/^https:/, "http:");
    await assert.rejects(run("curl", [...args, "--max-time", "10", `${plain}/v1/call/inc`]));
  });
});

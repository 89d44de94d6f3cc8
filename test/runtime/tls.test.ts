/**
 * TLS: a cluster started with a certificate and key listens on `stratuss://`; clients trusting
 * its certificate call over it, peers (a node and a scheduler on Redis) talk over it, and a
 * plain-TCP client is refused cleanly while the listener keeps serving. The certificate is
 * self-signed, made here with the openssl CLI.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ClosedError, Stratus, isStratusError } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { connect } from "../../src/wire/index.js";
import { BackendFixture } from "../../testing/backends.js";
import { until } from "../../testing/processes.js";
import { selfSignedCert } from "../../testing/certs.js";

describe("runtime: TLS", () => {
  const token = "tls-token";
  const dir = mkdtempSync(join(tmpdir(), "stratus-tls-"));
  const { certFile, keyFile } = selfSignedCert(dir);
  let ca: Buffer;

  before(() => {
    ca = readFileSync(certFile);
  });

  it("serves calls over stratuss:// and refuses a plain client cleanly", async () => {
    const proc = await StratusProcess.start({ token, executors: 1, tls: { certFile, keyFile } });
    try {
      assert.match(proc.url, /^stratuss:\/\/127\.0\.0\.1:\d+$/);
      const cloud = await Stratus.connect(proc.url, { token, tls: { ca } });
      await cloud.register("inc", (_ctx, x: number) => x + 1);
      assert.equal(await cloud.call("inc", [1]), 2);
      // A plain client speaks TCP to the TLS listener: refused, typed, and nothing else harmed.
      const plain = proc.url.replace("stratuss://", "stratus://");
      await assert.rejects(
        connect(plain, { token, role: "client", id: "plain", timeoutMs: 3000 }),
        (e) => isStratusError(e),
      );
      // A client that does not trust the certificate is refused too.
      await assert.rejects(Stratus.connect(proc.url, { token }), ClosedError);
      assert.equal(await cloud.call("inc", [2]), 3);
      await cloud.close();
    } finally {
      await proc.close();
    }
  });

  describe("between processes", () => {
    const backends = new BackendFixture("redis");
    after(() => backends.teardown());

    it("a scheduler and a node on Redis talk over TLS", async () => {
      const store = await backends.redisUrl();
      const prefix = `?prefix=tls${Date.now()}:`;
      const tls = { certFile, keyFile };
      const sched = await StratusProcess.start({ token, executors: 0, store: store + prefix, tls });
      const node = await StratusProcess.start({
        token,
        scheduler: false,
        executors: 1,
        store: store + prefix,
        tls,
        heartbeatMs: 100,
      });
      try {
        assert.match(node.url, /^stratuss:/);
        const cloud = await Stratus.connect(sched.url, { token, tls: { ca } });
        await cloud.register("inc", (_ctx, x: number) => x + 1);
        // Until the scheduler has seen the node's first heartbeat there is nowhere to run.
        await until(
          async () => (await cloud.status()).nodes.length === 1,
          10_000,
          "the node to join",
        );
        // The node's result reaches the scheduler over a TLS peer connection.
        assert.equal(await cloud.call("inc", [1]), 2);
        await cloud.close();
      } finally {
        await node.close();
        await sched.close();
      }
    });
  });
});

/**
 * `rediss://` store addresses against a real redis-server serving TLS only, with a self-signed
 * certificate made here with the openssl CLI; and no storage error that names an address carries
 * its password.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isStratusError } from "../../src/errors/index.js";
import { MaxLattice } from "../../src/lattice/index.js";
import {
  RedisStore,
  openStore,
  parseStoreAddress,
  redactStoreAddress,
} from "../../src/storage/index.js";
import type { ChangeEvent } from "../../src/storage/index.js";
import { RedisServer, freePort } from "../../testing/redis.js";
import { selfSignedCert } from "../../testing/certs.js";

const dir = mkdtempSync(join(tmpdir(), "stratus-tls-"));
const { certFile: cert, keyFile: key } = selfSignedCert(dir);
const PASSWORD = "pa55-Wörd@hidden";
let tlsServer: RedisServer;
let tlsPort: number;
let authServer: RedisServer;

before(async () => {
  tlsPort = await freePort();
  tlsServer = await RedisServer.start({
    args: [
      "--port",
      "0",
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      cert,
      "--tls-key-file",
      key,
      "--tls-auth-clients",
      "no",
    ],
  });
  authServer = await RedisServer.start({ args: ["--requirepass", PASSWORD] });
});

after(async () => {
  await tlsServer.stop();
  await authServer.stop();
  rmSync(dir, { recursive: true, force: true });
});

function codeOf(e: unknown): string {
  return isStratusError(e) ? e.code : String(e);
}

describe("storage/redis over TLS (rediss://)", () => {
  it("parses rediss:// addresses", () => {
    assert.deepEqual(parseStoreAddress("rediss://:pw@10.0.0.5:6380/2?prefix=a:"), {
      backend: "redis",
      url: "rediss://:pw@10.0.0.5:6380/2",
      keyPrefix: "a:",
    });
  });

  it("reads, writes and follows changes over TLS with a private CA", async () => {
    const store = await RedisStore.connect({
      url: `rediss://127.0.0.1:${tlsPort}`,
      tls: { ca: readFileSync(cert) },
    });
    try {
      const events: ChangeEvent[] = [];
      let seen!: () => void;
      const put = new Promise<void>((r) => (seen = r));
      const sub = await store.subscribe("t/", (e) => {
        events.push(e);
        if (e.kind === "put") seen();
      });
      await store.put("t/x", new MaxLattice(7));
      assert.equal(((await store.get("t/x")) as MaxLattice).value, 7);
      await put; // the subscriber connection is a TLS duplicate too
      assert.deepEqual(events[0], { kind: "put", key: "t/x" });
      await sub.close();
    } finally {
      await store.close();
    }
  });

  it("controls: plain redis:// to the TLS port, and TLS without trusting the CA, both fail typed", async () => {
    const plain = RedisStore.connect({
      url: `redis://127.0.0.1:${tlsPort}`,
      opTimeoutMs: 500,
      connectTimeoutMs: 500,
    });
    await assert.rejects(plain, (e) => codeOf(e) === "STORAGE_UNAVAILABLE");
    // Node rejects the self-signed certificate; the store keeps retrying until its deadline.
    const untrusted = RedisStore.connect({
      url: `rediss://127.0.0.1:${tlsPort}`,
      opTimeoutMs: 500,
      connectTimeoutMs: 500,
    });
    await assert.rejects(untrusted, (e) => isStratusError(e));
  });
});

describe("storage: no message carries a store password", () => {
  const url = (pw: string): string =>
    `redis://:${encodeURIComponent(pw)}@127.0.0.1:${authServer.port}`;

  it("redacts credentials in addresses", () => {
    assert.equal(redactStoreAddress("redis://:s3cret@h:1/0"), "redis://***@h:1/0");
    assert.equal(redactStoreAddress("rediss://u:p@w@h:1"), "rediss://***@h:1");
    assert.equal(redactStoreAddress("redis-cluster://a:1,b:2"), "redis-cluster://a:1,b:2");
  });

  it("the right password connects (the control); errors of wrong ones and bad URLs hide them", async () => {
    const ok = await openStore(url(PASSWORD));
    await ok.put("p", new MaxLattice(1));
    await ok.close();

    const failures: unknown[] = [];
    const attempts = [
      () => openStore(url("wrong-" + PASSWORD)),
      () => RedisStore.connect({ url: `redis://:${PASSWORD}@[bad-host:1`, opTimeoutMs: 500 }),
      () => RedisStore.connect({ url: `http://:${PASSWORD}@127.0.0.1:1` }),
      () => openStore(`redis:/:${PASSWORD}@127.0.0.1:1`),
      () => openStore(`redis-cluster://:${PASSWORD}@127.0.0.1`),
      () =>
        RedisStore.connect({
          url: `redis://127.0.0.1:${authServer.port}`,
          password: "x" + PASSWORD,
        }),
    ];
    for (const attempt of attempts) {
      try {
        await attempt();
        assert.fail("connected with bad credentials or a bad address");
      } catch (e) {
        failures.push(e);
      }
    }
    for (const e of failures) {
      assert.ok(isStratusError(e), `typed: ${String(e)}`);
      const text = JSON.stringify({
        m: (e as Error).message,
        s: (e as Error).stack,
        d: (e as { details?: unknown }).details,
      });
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD)]) {
        assert.ok(!text.includes(secret), `the password leaked: ${text}`);
      }
    }
  });
});

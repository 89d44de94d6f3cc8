/**
 * `stratus node --join stratuss://…` as docs/cluster.md runs it: real `stratus scheduler` and
 * `stratus node` processes on Redis, over TLS with certificates made here by openssl. The join
 * connection must check the scheduler the way every peer connection does (`--tls-ca`, else the
 * node's own certificate), and a client command trusts a cluster CA with `--tls-ca`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Stratus } from "../../src/index.js";
import { BackendFixture } from "../../testing/backends.js";
import { caSignedCert, selfSignedCert } from "../../testing/certs.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const token = "tls-join-token";
const env = { STRATUS_TOKEN: token };
const SCHEDULER = /scheduler \S+ at (\S+)\n/;
const JOINED = /node (\S+) joined at (\S+)\n/;

describe("cli: a node joins a scheduler over stratuss://", () => {
  const dir = mkdtempSync(join(tmpdir(), "stratus-tls-join-"));
  const backends = new BackendFixture("redis");
  const children: Child[] = [];
  let redis = "";
  // Each cluster gets its own keys: a node of one must not be placed work by the other.
  let clusters = 0;
  const store = (): string => `${redis}?prefix=tlsjoin${Date.now()}-${++clusters}:`;

  before(async () => {
    redis = await backends.redisUrl();
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await backends.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (args: string[], ready: RegExp): Promise<Child> => {
    const c = await startStratus(args, ready, env);
    children.push(c);
    return c;
  };

  it("with certificates chained to a CA given with --tls-ca", async () => {
    const { caFile, certFile, keyFile } = caSignedCert(mkdtempSync(join(dir, "ca-")));
    const tls = ["--tls-cert", certFile, "--tls-key", keyFile];
    const sched = await start(
      ["scheduler", "--store", store(), ...tls, "--tls-ca", caFile],
      SCHEDULER,
    );
    const url = sched.ready;
    assert.match(url, /^stratuss:\/\/127\.0\.0\.1:\d+$/);

    // Control: without the CA the node cannot verify the scheduler (its own certificate is a
    // leaf, no trust anchor), and says what to give it.
    await assert.rejects(
      startStratus(["node", "--join", url, ...tls, "--executors", "1"], JOINED, env),
      /did not verify: give the CA it chains to with --tls-ca/,
    );

    const node = await start(
      ["node", "--join", url, ...tls, "--tls-ca", caFile, "--executors", "1"],
      JOINED,
    );
    const nodeId = node.ready;
    const cloud = await Stratus.connect(url, { token, tls: { ca: readFileSync(caFile) } });
    try {
      await until(
        async () => (await cloud.status()).nodes.some((n) => n.id === nodeId),
        20_000,
        "the node in the scheduler's membership",
      );
      await cloud.register("inc", (_ctx, x: number) => x + 1);
      // The scheduler runs no executors: the call ran on the node that joined over TLS.
      assert.equal(await cloud.call("inc", [1]), 2);
    } finally {
      await cloud.close();
    }

    // The CLI as a client of the same cluster: --tls-ca instead of NODE_EXTRA_CA_CERTS.
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const cli = (extra: string[]): Promise<{ stdout: string }> =>
      run(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "call", "inc", "[41]", "--url", url, ...extra],
        { cwd: root, env: { ...process.env, STRATUS_HOME: dir, STRATUS_TOKEN: "" } },
      );
    const { stdout } = await cli(["--token-file", tokenFile, "--tls-ca", caFile]);
    assert.equal(JSON.parse(stdout), 42);
    await assert.rejects(cli(["--token-file", tokenFile]), /certificate/);
  });

  it("with one self-signed certificate: the node trusts its own --tls-cert", async () => {
    const { certFile, keyFile } = selfSignedCert(mkdtempSync(join(dir, "self-")));
    const tls = ["--tls-cert", certFile, "--tls-key", keyFile];
    const sched = await start(["scheduler", "--store", store(), ...tls], SCHEDULER);
    const node = await start(["node", "--join", sched.ready, ...tls, "--executors", "1"], JOINED);
    assert.match(node.ready, /\S+/);
    const cloud = await Stratus.connect(sched.ready, {
      token,
      tls: { ca: readFileSync(certFile) },
    });
    try {
      await until(
        async () => (await cloud.status()).nodes.some((n) => n.id === node.ready),
        20_000,
        "the node in the scheduler's membership",
      );
      await cloud.register("double", (_ctx, x: number) => x * 2);
      assert.equal(await cloud.call("double", [21]), 42);
    } finally {
      await cloud.close();
    }
  });

  it("refuses --tls-ca without a certificate of its own rather than ignoring it", async () => {
    await assert.rejects(
      startStratus(
        ["node", "--join", "stratuss://127.0.0.1:1", "--tls-ca", join(dir, "none.pem")],
        JOINED,
        env,
      ),
      /--tls-ca goes with --tls-cert and --tls-key/,
    );
  });
});

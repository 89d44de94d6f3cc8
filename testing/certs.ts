/**
 * Certificates for loopback, made with the openssl CLI for TLS tests (nothing is downloaded or
 * shipped): a self-signed one, or a CA and a certificate it signed; valid for one day for
 * `localhost` and 127.0.0.1.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes `c.pem` and `k.pem` into `dir` and returns their paths. */
export function selfSignedCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, "c.pem");
  const keyFile = join(dir, "k.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
    ],
    { stdio: "ignore" },
  );
  return { certFile, keyFile };
}

/**
 * A certificate authority and one certificate for loopback signed by it, as a cluster whose
 * processes each have their own certificate would use: `ca.pem` is what `--tls-ca` names. The
 * leaf alone is no trust anchor, so a peer that is not given the CA refuses it.
 */
export function caSignedCert(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const caFile = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  const csr = join(dir, "leaf.csr");
  const ext = join(dir, "leaf.ext");
  const certFile = join(dir, "leaf.pem");
  const keyFile = join(dir, "leaf-key.pem");
  const openssl = (args: string[]): void => void execFileSync("openssl", args, { stdio: "ignore" });
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=stratus test CA",
    "-keyout",
    caKey,
    "-out",
    caFile,
    "-days",
    "1",
  ]);
  openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    keyFile,
    "-out",
    csr,
  ]);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    caFile,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-extfile",
    ext,
    "-days",
    "1",
    "-out",
    certFile,
  ]);
  return { caFile, certFile, keyFile };
}

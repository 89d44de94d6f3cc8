/**
 * A self-signed certificate for loopback, made with the openssl CLI for TLS tests (nothing is
 * downloaded or shipped): valid for one day for `localhost` and 127.0.0.1.
 */
import { execFileSync } from "node:child_process";
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

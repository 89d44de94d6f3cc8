/**
 * The cluster token and the store password: where the CLI takes them from, so that neither need
 * appear on a command line (`ps` shows every process's arguments to every user), and a filter
 * that keeps both out of what the CLI prints on stderr.
 */
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "../errors/index.js";

/** Reads a secret from a file; one trailing newline (as `echo` leaves) is not part of it. */
export function readSecretFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw InvalidArgumentError.field(flag, `cannot read ${path}: ${(e as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret.length === 0) throw InvalidArgumentError.field(flag, `${path} is empty`);
  return secret;
}

/** Where a token came from; `up` prints the token only when it made it. */
export type TokenSource = "--token" | "--token-file" | "STRATUS_TOKEN";

/**
 * The token from `--token`, else `--token-file`, else STRATUS_TOKEN; undefined when none is
 * given. Both flags at once is a mistake, refused rather than guessed at.
 */
export function givenToken(
  o: { token?: unknown; tokenFile?: unknown },
  env: NodeJS.ProcessEnv,
): { token: string; source: TokenSource } | undefined {
  const flag = typeof o.token === "string" ? o.token : undefined;
  const file = typeof o.tokenFile === "string" ? o.tokenFile : undefined;
  if (flag !== undefined && file !== undefined) {
    throw new InvalidArgumentError("give the token with one of --token and --token-file");
  }
  if (flag !== undefined) return { token: flag, source: "--token" };
  if (file !== undefined)
    return { token: readSecretFile(file, "--token-file"), source: "--token-file" };
  const fromEnv = env.STRATUS_TOKEN;
  if (fromEnv !== undefined && fromEnv !== "") return { token: fromEnv, source: "STRATUS_TOKEN" };
  return undefined;
}

/** The store password from `--store-password-file`, else STRATUS_STORE_PASSWORD. */
export function givenStorePassword(
  o: { storePasswordFile?: unknown },
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (typeof o.storePasswordFile === "string") {
    return readSecretFile(o.storePasswordFile, "--store-password-file");
  }
  const fromEnv = env.STRATUS_STORE_PASSWORD;
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

/**
 * Replaces known secrets with `***` in text about to be printed: the CLI's log lines and error
 * messages. Secrets are kept out of messages in the first place; this catches what a library
 * quotes back (a store address in a parse error, say).
 *
 * @example
 * ```ts
 * const r = new Redactor();
 * r.add("s3cret");
 * r.scrub("redis://:s3cret@h:6379"); // "redis://:***@h:6379"
 * ```
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short secrets would turn every log line into asterisks; they are also no secret.
    if (secret === undefined || secret.length < 4) return;
    // As written, as it appears inside a URL, and as it appears inside a JSON log line.
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) {
      this.secrets.add(form);
      try {
        this.secrets.add(decodeURIComponent(form));
      } catch {
        // Not percent-encoded text; the forms above cover it.
      }
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join("***");
    return out;
  }
}

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { InvalidArgumentError } from "../errors/index.js";
import { givenToken } from "./secrets.js";

/** Where `stratus up` leaves its address and token for the other commands of this user. */
export function clusterFile(): string {
  return join(process.env.STRATUS_HOME ?? join(homedir(), ".stratus"), "cluster.json");
}

export function saveCluster(url: string, token: string): void {
  const f = clusterFile();
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, JSON.stringify({ url, token }, null, 2) + "\n", { mode: 0o600 });
}

/**
 * `--url`, else STRATUS_URL, else what `stratus up` saved; the token from `--token`,
 * `--token-file` or STRATUS_TOKEN, else the saved one.
 */
export function resolveTarget(opts: { url?: unknown; token?: unknown; tokenFile?: unknown }): {
  url: string;
  token: string;
  /** The cluster file the address came from, when neither a flag nor the environment gave it. */
  savedIn?: string;
} {
  let saved: { url?: string; token?: string } = {};
  try {
    saved = JSON.parse(readFileSync(clusterFile(), "utf8")) as typeof saved;
  } catch {
    // No saved cluster: fine when flags or the environment say where to go.
  }
  const url =
    (typeof opts.url === "string" ? opts.url : undefined) ?? process.env.STRATUS_URL ?? saved.url;
  const token = givenToken(opts, process.env)?.token ?? saved.token;
  if (url === undefined || token === undefined) {
    throw new InvalidArgumentError(
      "no cluster to talk to: start one with `stratus up`, or pass --url and --token or --token-file (or set STRATUS_URL and STRATUS_TOKEN)",
    );
  }
  const fromFile = typeof opts.url !== "string" && process.env.STRATUS_URL === undefined;
  return fromFile ? { url, token, savedIn: clusterFile() } : { url, token };
}

/** Parses a JSON command-line argument with a clear error. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new InvalidArgumentError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

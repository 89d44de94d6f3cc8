/**
 * Starts restate-server and one SDK endpoint, registers the endpoint and waits until a probe call
 * through the ingress succeeds. Meant to run inside a private network namespace (see
 * bench/peers/netns-run.ts): it binds 127.0.0.1 on fixed ports. Reusable by any benchmark that
 * compares against Restate (the endpoint script is a parameter).
 *
 * @example
 * ```ts
 * const r = await startRestate({ serverBin, scratch, tmp, endpoint: "bench/peers/counter-endpoint.mjs",
 *   probe: (url) => post(`${url}/counter/probe/get`, "null") });
 * await post(`${r.ingress}/counter/hot/add`, "1");
 * await r.stop();
 * ```
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface RestateOptions {
  /** The install dir holding node_modules/@restatedev/restate-sdk (bench/.scratch/peers). */
  scratch: string;
  serverBin: string;
  /** A private temp dir for the server's data and log. */
  tmp: string;
  /** An endpoint script run with plain node as `node <script> <scratch> <port>`; it prints
   * "listening on" once it serves. */
  endpoint: string;
  /** A call through the ingress that succeeds once the deployment is usable. */
  probe(ingress: string): Promise<unknown>;
  log?: (msg: string) => void;
  ports?: { ingress: number; admin: number; node: number; endpoint: number };
}

export interface Restate {
  /** http://127.0.0.1:<ingress port> */
  ingress: string;
  /** Throws if the server or the endpoint has exited. */
  check(): void;
  /** The tail of the server's log, for error reports. */
  logTail(): string;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const STARTUP_TIMEOUT_MS = 60_000;
const DEFAULT_PORTS = { ingress: 8080, admin: 9070, node: 5122, endpoint: 9080 };

function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(c: ChildProcess, graceMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    if (exited(c)) return resolve();
    const t = setTimeout(() => c.kill("SIGKILL"), graceMs);
    c.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    c.kill("SIGTERM");
  });
}

/** Polls `probe` every 100 ms until it resolves; fails after `ms` with the last error. */
async function until(what: string, ms: number, probe: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${ms / 1000} s waiting for ${what}: ${String(err)}`);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

class Fatal extends Error {}

function waitForLine(c: ChildProcess, text: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(
      () => reject(new Error(`${what} did not start within ${STARTUP_TIMEOUT_MS / 1000} s`)),
      STARTUP_TIMEOUT_MS,
    );
    c.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
    c.once("exit", (code, sig) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${code ?? sig}) before it was ready`));
    });
    c.once("error", (err) => {
      clearTimeout(t);
      reject(new Error(`cannot start ${what}: ${err.message}`));
    });
  });
}

async function ok(url: string, init?: RequestInit): Promise<void> {
  const r = await fetch(url, init);
  const body = await r.text();
  if (!r.ok) throw new Error(`${init?.method ?? "GET"} ${url}: HTTP ${r.status} ${body}`);
}

/** Starts the server and the endpoint, registers it; both are stopped again on failure. */
export async function startRestate(o: RestateOptions): Promise<Restate> {
  const ports = o.ports ?? DEFAULT_PORTS;
  const log = o.log ?? (() => undefined);
  const serverLog = join(o.tmp, "restate-server.log");
  const fd = openSync(serverLog, "a");
  log(`starting restate-server (base dir ${o.tmp}/restate)`);
  const server = spawn(
    o.serverBin,
    [
      "--no-logo",
      "--listen-mode",
      "tcp",
      "--bind-ip",
      HOST,
      "--node-name",
      "bench",
      "--base-dir",
      join(o.tmp, "restate"),
      "--log-disable-ansi-codes",
      "true",
    ],
    {
      cwd: o.tmp,
      stdio: ["ignore", fd, fd],
      env: {
        ...process.env,
        RESTATE_BIND_PORT: String(ports.node),
        RESTATE_ADMIN__BIND_PORT: String(ports.admin),
        RESTATE_INGRESS__BIND_PORT: String(ports.ingress),
        RESTATE_DISABLE_TELEMETRY: "true",
      },
    },
  );
  closeSync(fd);
  const endpoint = spawn(process.execPath, [o.endpoint, o.scratch, String(ports.endpoint)], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RESTATE_LOGGING: "ERROR" },
  });
  const check = (): void => {
    if (exited(server)) throw new Fatal(`restate-server exited (${server.exitCode})`);
    if (exited(endpoint)) throw new Fatal(`the Restate endpoint exited (${endpoint.exitCode})`);
  };
  const logTail = (): string => {
    try {
      return readFileSync(serverLog, "utf8").slice(-3000);
    } catch {
      return "";
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.all([stopChild(endpoint), stopChild(server)]);
  };
  const ingress = `http://${HOST}:${ports.ingress}`;
  try {
    await waitForLine(endpoint, "listening on", "the Restate endpoint");
    await until("restate-server's admin and ingress", STARTUP_TIMEOUT_MS, async () => {
      check();
      await ok(`http://${HOST}:${ports.admin}/health`);
      await ok(`${ingress}/restate/health`);
    });
    log(`registering the deployment http://${HOST}:${ports.endpoint}`);
    await ok(`http://${HOST}:${ports.admin}/deployments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ uri: `http://${HOST}:${ports.endpoint}` }),
    });
    await until("the deployment to be callable", STARTUP_TIMEOUT_MS, async () => {
      check();
      await o.probe(ingress);
    });
  } catch (err) {
    await stop();
    const tail = logTail();
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}` +
        (tail ? `\n--- restate-server log (tail) ---\n${tail}` : ""),
    );
  }
  return { ingress, check, logTail, stop };
}

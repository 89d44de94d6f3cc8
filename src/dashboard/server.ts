import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidArgumentError, isStratusError } from "../errors/index.js";
import { COOKIE, Sessions, cookie } from "./auth.js";
import { dashboardPage, loginPage } from "./page.js";
import type { DashboardSource } from "./source.js";

/** Options of {@link Dashboard}. */
export interface DashboardOptions {
  /** Where the page's figures come from. */
  source: DashboardSource;
  /**
   * Cluster token: the login form asks for it. Without one the dashboard is open; the processes
   * always have a token, so that is for embedding on loopback only.
   */
  token?: string;
  /** Mark the cookie `Secure` (served over HTTPS). @default false */
  secure?: boolean;
  /** How long a sign-in lasts. @default 43200000 (12 hours) */
  sessionMs?: number;
  /** How often the page polls the state. @default 1000 */
  pollMs?: number;
}

const PREFIX = "/dashboard";
const API = "/dashboard/api/";
const MAX_FORM_BYTES = 4096;

/**
 * The web dashboard, as routes under `/dashboard` of a scheduler's HTTP ingress: the page, a
 * login form that turns the cluster token into an HttpOnly, SameSite=Strict session cookie, and
 * its JSON reads (a bearer token works too, for scripts): `GET /dashboard/api/state` (polled by
 * the page), `…/api/keys?prefix=&cursor=&limit=` (one bounded page of state keys),
 * `…/api/schedules`, `…/api/functions` and `…/api/logs?run=<id>`.
 *
 * @example
 * ```ts
 * const dashboard = new Dashboard({ source, token });
 * await HttpIngress.listen({ gateway, token, port: 7480, routes: dashboard });
 * // open http://127.0.0.1:7480/dashboard
 * ```
 */
export class Dashboard {
  private readonly sessions: Sessions | undefined;
  private readonly pollMs: number;

  constructor(private readonly o: DashboardOptions) {
    this.sessions =
      o.token === undefined || o.token === ""
        ? undefined
        : new Sessions(o.token, o.sessionMs ?? 12 * 3600_000);
    this.pollMs = o.pollMs ?? 1000;
  }

  /** Answers a request under `/dashboard`; returns false (without answering) for any other path. */
  async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (path !== PREFIX && !path.startsWith(PREFIX + "/")) return false;
    const route = `${req.method ?? "GET"} ${path}`;
    switch (route) {
      case "GET /dashboard":
      case "GET /dashboard/": {
        if (!this.signedIn(req)) return (html(res, 200, loginPage()), true);
        const nonce = randomBytes(16).toString("base64");
        html(res, 200, dashboardPage(nonce, this.pollMs), nonce);
        return true;
      }
      case "POST /dashboard/login":
        await this.login(req, res);
        return true;
      case "POST /dashboard/logout":
        res.writeHead(303, {
          "Set-Cookie": this.cookie("", 0),
          Location: PREFIX,
          "Cache-Control": "no-store",
        });
        res.end();
        return true;
      case "GET /dashboard/api/state":
      case "GET /dashboard/api/keys":
      case "GET /dashboard/api/schedules":
      case "GET /dashboard/api/functions":
      case "GET /dashboard/api/logs":
        // Every read of the cluster's figures, state or code passes the same sign-in check.
        if (!this.signedIn(req)) {
          json(res, 401, { error: { code: "UNAUTHORIZED", message: "sign in at /dashboard" } });
          return true;
        }
        try {
          json(res, 200, await this.read(path.slice(API.length), url.searchParams));
        } catch (e) {
          const bad = isStratusError(e) && e.code === "INVALID_ARGUMENT";
          const code = isStratusError(e) ? e.code : "INTERNAL";
          const message = e instanceof Error ? e.message : String(e);
          json(res, bad ? 400 : 500, { error: { code, message } });
        }
        return true;
      default:
        json(res, 404, { error: { code: "INVALID_ARGUMENT", message: `no route ${route}` } });
        return true;
    }
  }

  /** The JSON behind one API route (its path after `/dashboard/api/`). */
  private read(route: string, q: URLSearchParams): Promise<unknown> {
    const { source } = this.o;
    switch (route) {
      case "keys": {
        const limit = q.get("limit");
        const cursor = q.get("cursor");
        return source.keys({
          prefix: q.get("prefix") ?? "",
          ...(cursor !== null && { cursor }),
          ...(limit !== null && { limit: Number(limit) }),
        });
      }
      case "schedules":
        return source.schedules();
      case "functions":
        return source.functions();
      case "logs": {
        const run = q.get("run") ?? "";
        if (run.length === 0 || run.length > 256) {
          throw InvalidArgumentError.field("run", "must be a run id (1 to 256 characters)");
        }
        return source.logs(run);
      }
      default:
        return source.state();
    }
  }

  private signedIn(req: IncomingMessage): boolean {
    if (this.sessions === undefined) return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    if (bearer !== undefined && this.sessions.isToken(bearer)) return true;
    return this.sessions.valid(cookie(req.headers.cookie, COOKIE));
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const token = form?.get("token") ?? "";
    if (this.sessions === undefined) {
      res.writeHead(303, { Location: PREFIX }).end();
      return;
    }
    if (!this.sessions.isToken(token)) {
      html(res, 401, loginPage("That is not the cluster token."));
      return;
    }
    const ttl = this.o.sessionMs ?? 12 * 3600_000;
    res.writeHead(303, {
      "Set-Cookie": this.cookie(this.sessions.issue(), Math.floor(ttl / 1000)),
      Location: PREFIX,
      "Cache-Control": "no-store",
    });
    res.end();
  }

  private cookie(value: string, maxAgeS: number): string {
    const secure = this.o.secure === true ? "; Secure" : "";
    return `${COOKIE}=${value}; Path=${PREFIX}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure}`;
  }
}

/** An urlencoded form body of at most MAX_FORM_BYTES; undefined when longer. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size <= MAX_FORM_BYTES) chunks.push(c);
  }
  if (size > MAX_FORM_BYTES) return undefined;
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function html(res: ServerResponse, status: number, body: string, nonce?: string): void {
  const script = nonce === undefined ? "'none'" : `'nonce-${nonce}'`;
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": `default-src 'self'; script-src ${script}; style-src 'unsafe-inline'; frame-ancestors 'none'`,
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}

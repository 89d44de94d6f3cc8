import { InvalidArgumentError, NotFoundError, StratusError } from "../errors/index.js";

/** A matched request: what it addresses, and the (decoded) name in its path. */
export type Route =
  { kind: "openapi" } | { kind: "fn" | "dag" | "future" | "cancel" | "kv"; name: string };

/**
 * A path that exists, asked with a method it does not serve: 405 with `Allow`. Its code is
 * INVALID_ARGUMENT (the request is wrong, not the server) so that its body reads like every
 * other error's.
 */
export class MethodNotAllowed extends StratusError {
  constructor(
    method: string,
    path: string,
    readonly allow: string[],
  ) {
    super(
      "INVALID_ARGUMENT",
      `${method.slice(0, 16)} is not allowed on ${path.slice(0, 256)}; use ${allow.join(" or ")}`,
    );
  }
}

/** One path pattern: its prefix, how many segments its name takes, and the methods it serves. */
interface Pattern {
  kind: Route["kind"];
  prefix: string[];
  /** One segment, or the whole rest of the path (keys may contain `/`). */
  rest: boolean;
  suffix?: string;
  methods: string[];
}

const PATTERNS: Pattern[] = [
  { kind: "openapi", prefix: ["v1", "openapi.json"], rest: false, methods: ["GET"] },
  { kind: "fn", prefix: ["v1", "fn"], rest: false, methods: ["POST"] },
  // The older name of the function route, kept so existing clients go on working.
  { kind: "fn", prefix: ["v1", "call"], rest: false, methods: ["POST"] },
  { kind: "dag", prefix: ["v1", "dag"], rest: false, methods: ["POST"] },
  { kind: "future", prefix: ["v1", "futures"], rest: false, methods: ["GET"] },
  { kind: "cancel", prefix: ["v1", "runs"], rest: false, suffix: "cancel", methods: ["POST"] },
  { kind: "kv", prefix: ["v1", "kv"], rest: true, methods: ["GET", "PUT", "DELETE"] },
];

/**
 * The route of `method` on `pathname` (as the URL parser left it, percent-encoded).
 *
 * @throws NotFoundError for a path no route has, MethodNotAllowed for a method it does not serve,
 * InvalidArgumentError for a name with bad percent-encoding.
 * @example
 * ```ts
 * matchRoute("GET", "/v1/kv/visits/home"); // { kind: "kv", name: "visits/home" }
 * matchRoute("GET", "/v1/fn/inc"); // throws MethodNotAllowed (allow: ["POST"])
 * ```
 */
export function matchRoute(method: string, pathname: string): Route {
  const parts = pathname.split("/").slice(1);
  for (const p of PATTERNS) {
    if (!p.prefix.every((s, i) => parts[i] === s)) continue;
    const after = parts.slice(p.prefix.length);
    let raw: string | undefined;
    if (p.kind === "openapi") raw = after.length === 0 ? "" : undefined;
    else if (p.rest) raw = after.length > 0 ? after.join("/") : undefined;
    else if (p.suffix !== undefined)
      raw = after.length === 2 && after[1] === p.suffix ? after[0] : undefined;
    else raw = after.length === 1 ? after[0] : undefined;
    if (raw === undefined || (p.kind !== "openapi" && raw.length === 0)) continue;
    // HEAD is GET without a body: Node's response drops the body itself.
    const m = method === "HEAD" ? "GET" : method;
    if (!p.methods.includes(m)) throw new MethodNotAllowed(method, pathname, p.methods);
    if (p.kind === "openapi") return { kind: "openapi" };
    return { kind: p.kind, name: decode(raw) };
  }
  throw new NotFoundError(
    `no route ${pathname.slice(0, 256)}; the routes are listed in /v1/openapi.json`,
  );
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgumentError(`bad percent-encoding in ${raw.slice(0, 256)}`);
  }
}

import { UnauthorizedError, ensureError } from "../errors/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import {
  CLIENT_REQUESTS,
  HOME_METHODS,
  PIN_METHODS,
  isCancel,
  isFnMessage,
  isHomeRead,
  isHomeRelease,
  isPinFetch,
  isPinRelease,
  isRunResult,
  isTrigger,
} from "../protocol/index.js";
import type { Cancel, FnMessage, RunResult, Trigger } from "../protocol/index.js";
import type { Connection, Handlers } from "../wire/index.js";

/**
 * How a process routes what its connections send: who may send what (roles), which shapes are
 * accepted, and guards so that nothing a peer sends can throw into the event loop.
 */

/** Messages refused or lost before reaching a handler, by reason; for metrics and tests. */
export interface DropCounts {
  /** Notifications from a role that may not send them (a client sending `trigger`). */
  unauthorized: number;
  /** Notifications of an unknown method or a malformed payload. */
  malformed: number;
  /** Handlers that threw; the message was dropped, the process kept going. */
  failed: number;
}

/** Where accepted messages go; set once the parts exist. */
export interface RouteTargets {
  onTrigger?: (t: Trigger) => void;
  onResult?: (r: RunResult) => void;
  onMessage?: (m: FnMessage) => void;
  /** A peer node's `cancel` (peers only, like `trigger`). */
  onCancel?: (c: Cancel) => void;
  /** Messages between the session policies of nodes (pinned versions), already shape-checked. */
  onSession?: (method: string, payload: unknown) => unknown;
  /** Answers a request a connection's role is allowed to make. */
  request: (method: string, payload: unknown, conn: Connection) => unknown;
}

/**
 * A connection speaks for a peer (node or scheduler) when the peer said so in its hello, or when
 * this process opened it to a listener it chose (no role: the listener is a cluster process).
 */
const isPeer = (conn: Connection | undefined): boolean => conn?.role !== "client";

/** Builds the handlers of a process's connections. @internal */
export function routeMessages(
  targets: RouteTargets,
  warn: (msg: string) => void,
): { handlers: Handlers; local: (method: string, a: unknown) => void; dropped: DropCounts } {
  const dropped: DropCounts = { unauthorized: 0, malformed: 0, failed: 0 };
  // One warning per connection and reason: a hostile peer must not be able to flood the log.
  const warned = new WeakMap<object, Set<string>>();
  const LOCAL = {};
  const drop = (why: keyof DropCounts, conn: Connection | undefined, detail: string): void => {
    dropped[why]++;
    const key = conn ?? LOCAL;
    const seen = warned.get(key) ?? new Set<string>();
    if (seen.has(why)) return;
    seen.add(why);
    warned.set(key, seen);
    const who = conn === undefined ? "this process" : `${conn.remoteId} (${conn.role ?? "peer"})`;
    warn(`dropped a message from ${who}: ${detail}`);
  };
  /**
   * Hands a notification to its target. `check`: the message came off the network and is checked
   * by shape first; one this process built for itself (`local`) is not checked again.
   */
  const deliver = (method: string, a: unknown, check: boolean, conn?: Connection): void => {
    try {
      if (method === "trigger" && (!check || isTrigger(a))) targets.onTrigger?.(a as Trigger);
      else if (method === "result" && (!check || isRunResult(a)))
        targets.onResult?.(a as RunResult);
      else if (method === "fnmsg" && isFnMessage(a)) targets.onMessage?.(a);
      else if (method === "cancel" && isCancel(a)) targets.onCancel?.(a);
      else if (method === PIN_METHODS.release && isPinRelease(a)) targets.onSession?.(method, a);
      else if (method === HOME_METHODS.release && isHomeRelease(a)) targets.onSession?.(method, a);
      else drop("malformed", conn, `malformed or unknown ${method.slice(0, 64)}`);
    } catch (e) {
      drop("failed", conn, `${method} handler threw: ${ensureError(e).message}`);
    }
  };
  const notify = (method: string, a: unknown, conn?: Connection): void => {
    if (!isPeer(conn)) {
      drop("unauthorized", conn, `a client may not send ${method.slice(0, 64)}`);
      return;
    }
    deliver(method, a, true, conn);
  };
  const handlers: Handlers = {
    request: (method, a, conn) => {
      if (!isPeer(conn) && !CLIENT_REQUESTS.has(method)) {
        throw new UnauthorizedError(`a client may not make ${method.slice(0, 64)} requests`);
      }
      if (method === PIN_METHODS.fetch || method === HOME_METHODS.read) {
        const ok = method === PIN_METHODS.fetch ? isPinFetch(a) : isHomeRead(a);
        if (!ok) throw new InvalidArgumentError(`malformed ${method}`);
        if (targets.onSession === undefined) {
          throw new InvalidArgumentError(`${method}: this process runs no node`);
        }
        return targets.onSession(method, a);
      }
      return targets.request(method, a, conn);
    },
    notify,
  };
  return { handlers, local: (method, a) => deliver(method, a, false), dropped };
}

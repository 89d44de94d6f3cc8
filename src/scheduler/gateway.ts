import { randomUUID } from "node:crypto";
import {
  BadFunctionError,
  InvalidArgumentError,
  TimeoutError,
  toWireError,
} from "../errors/index.js";
import type { HybridClock, Lattice } from "../lattice/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { Store } from "../storage/index.js";
import type { Connection } from "../wire/index.js";
import { checkName, validateDag } from "./dag.js";
import type { DagSpec } from "./dag.js";
import { singleFunctionDag } from "./dispatcher.js";
import type { Dispatcher, RunRequest } from "./dispatcher.js";
import type { Membership } from "./membership.js";
import { KEYS, userKey } from "./protocol.js";
import type { CallOptions, FunctionDef } from "./protocol.js";
import type { Registry } from "./registry.js";

/** Checks a function's source before it is stored; throws `BAD_FUNCTION`. */
export type SourceValidator = (name: string, source: string, kind: "function" | "init") => void;

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  store: Store;
  clock: HybridClock;
  registry: Registry;
  dispatcher: Dispatcher;
  membership: Membership;
  validate: SourceValidator;
}

/** A future's outcome as stored under `sys/fut/<id>`. */
export interface FutureOutcome {
  ok: boolean;
  v?: Uint8Array;
  e?: ReturnType<typeof toWireError>;
}

/**
 * The client-facing side of a scheduler: registration, calls, futures, key-value access and
 * status, as request handlers. Stateless apart from runs in flight.
 *
 * @example
 * ```ts
 * const gw = new Gateway({ store, clock, registry, dispatcher, membership, validate });
 * const v = await gw.handle("call", { fn: "inc", args: [encodeValue(1)] }, conn);
 * ```
 */
export class Gateway {
  constructor(private readonly o: GatewayOptions) {}

  /** Answers one client request. Unknown methods get `INVALID_ARGUMENT`. */
  async handle(method: string, a: unknown, conn: Connection): Promise<unknown> {
    const p = (typeof a === "object" && a !== null ? a : {}) as Record<string, unknown>;
    switch (method) {
      case "fn.register":
        return this.registerFunction(p);
      case "dag.register": {
        const name = checkName(p.name, "DAG");
        const def = validateDag(name, p.spec as DagSpec);
        await Promise.all(def.functions.map((f) => this.o.registry.fn(f)));
        await this.o.registry.putDag(def);
        return { name };
      }
      case "call": {
        const fn = checkName(p.fn, "function");
        await this.o.registry.fn(fn);
        const req: RunRequest = {
          def: singleFunctionDag(fn),
          inputs: { [fn]: bytesList(p.args, "args") },
        };
        const refs = stringList(p.refs);
        if (refs.length > 0) req.refs = { [fn]: refs };
        return this.start(req, p.options, conn);
      }
      case "dag.call": {
        const def = await this.o.registry.dag(checkName(p.dag, "DAG"));
        const inputs: Record<string, Uint8Array[]> = {};
        const raw = (p.inputs ?? {}) as Record<string, unknown>;
        for (const [f, v] of Object.entries(raw)) inputs[f] = bytesList(v, `inputs.${f}`);
        const req: RunRequest = { def, inputs };
        if (typeof p.refs === "object" && p.refs !== null) {
          req.refs = p.refs as Record<string, string[]>;
        }
        return this.start(req, p.options, conn);
      }
      case "future.get":
        return this.futureGet(
          String(p.id),
          typeof p.timeoutMs === "number" ? p.timeoutMs : 120_000,
        );
      case "kv.get":
        return userValue(userKey(p.key), await this.o.store.get(userKey(p.key)));
      case "kv.put":
        await this.o.store.put(
          userKey(p.key),
          new LwwLattice(this.o.clock.now(), bytes(p.value, "value")),
        );
        return null;
      case "kv.delete":
        await this.o.store.delete(userKey(p.key));
        return null;
      case "status":
        return this.status();
      default:
        throw new InvalidArgumentError(`unknown method ${method}`);
    }
  }

  private async registerFunction(
    p: Record<string, unknown>,
  ): Promise<{ name: string; version: string }> {
    const name = checkName(p.name, "function");
    const kind = p.kind === "module" ? "module" : "source";
    if (typeof p.source !== "string" || p.source.length === 0) {
      throw new BadFunctionError(`function ${name}: source must be a non-empty string`);
    }
    const def: Omit<FunctionDef, "version"> = { name, kind, source: p.source };
    if (kind === "source") this.o.validate(name, p.source, "function");
    else if (typeof p.exportName === "string") def.exportName = p.exportName;
    else throw new BadFunctionError(`function ${name}: a module function needs its export name`);
    if (typeof p.init === "string") {
      if (kind === "source") this.o.validate(name, p.init, "init");
      def.init = p.init;
    }
    if (p.timeoutMs !== undefined) {
      // Infinity or NaN would turn into a limit no node can enforce; nodes also clamp to their cap.
      if (typeof p.timeoutMs !== "number" || !Number.isFinite(p.timeoutMs) || !(p.timeoutMs > 0)) {
        throw new InvalidArgumentError(
          `function ${name}: timeoutMs must be a finite positive number of milliseconds`,
        );
      }
      def.timeoutMs = p.timeoutMs;
    }
    const full = await this.o.registry.putFunction(def);
    return { name, version: full.version };
  }

  private async start(req: RunRequest, raw: unknown, conn: Connection): Promise<unknown> {
    const options = callOptions(raw);
    req.options = options;
    if (options?.future !== true) return this.o.dispatcher.run(req);
    const id = randomUUID();
    req.future = id;
    this.o.dispatcher.run(req).then(
      (v) => conn.notify("future", { id, ok: true, v }),
      async (err: unknown) => {
        const e = toWireError(err);
        conn.notify("future", { id, ok: false, e });
        const outcome: FutureOutcome = { ok: false, e };
        await this.o.store
          .put(KEYS.future + id, LwwLattice.of(outcome, this.o.clock.now()))
          .catch(() => undefined);
      },
    );
    return { future: id };
  }

  /** Waits for a future's outcome in storage: read, else subscribe and wait for its write. */
  private async futureGet(id: string, timeoutMs: number): Promise<FutureOutcome> {
    const key = KEYS.future + id;
    let done!: (o: FutureOutcome) => void;
    const arrived = new Promise<FutureOutcome>((r) => (done = r));
    const sub = await this.o.store.subscribe(key, (e) => {
      if (e.kind !== "delete") void this.readFuture(key).then((o) => o && done(o));
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const now = await this.readFuture(key);
      if (now !== undefined) return now;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`future ${id} not resolved within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return await Promise.race([arrived, timeout]);
    } finally {
      clearTimeout(timer);
      await sub.close();
    }
  }

  private async readFuture(key: string): Promise<FutureOutcome | undefined> {
    const l = await this.o.store.get(key);
    return l === undefined ? undefined : (l as LwwLattice).value<FutureOutcome>();
  }

  private async status(): Promise<unknown> {
    const [functions, dags] = await Promise.all([
      this.o.registry.listFunctions(),
      this.o.registry.listDags(),
    ]);
    const nodes = this.o.membership.list().map((m) => ({
      id: m.id,
      addr: m.addr,
      executors: m.executors,
      busy: m.busy,
      queued: m.queued,
      cachedKeys: m.cached.length,
    }));
    return {
      backend: this.o.store.backend,
      nodes,
      functions,
      dags,
      inFlight: this.o.dispatcher.inFlight,
    };
  }
}

/** Call options from the wire, checked: a bad deadline is refused, not turned into NaN timers. */
function callOptions(raw: unknown): CallOptions {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object") throw new InvalidArgumentError("options must be an object");
  const o = raw as Record<string, unknown>;
  const out: CallOptions = {};
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== "number" || !(o.timeoutMs > 0) || o.timeoutMs > 86_400_000) {
      throw new InvalidArgumentError("timeoutMs must be a number of milliseconds, at most a day");
    }
    out.timeoutMs = o.timeoutMs;
  }
  if (o.future === true) out.future = true;
  if (o.consistency !== undefined && o.consistency !== "lww") {
    throw new InvalidArgumentError(
      `consistency ${JSON.stringify(o.consistency)} is not available; use "lww"`,
    );
  }
  return out;
}

/** The encoded user value of an LWW key (the SDK's put/get); other lattices need the Store API. */
function userValue(key: string, l: Lattice | undefined): Uint8Array | null {
  if (l === undefined) return null;
  if (l.kind !== "lww") {
    throw new InvalidArgumentError(
      `key ${key.slice(KEYS.user.length)} holds a ${l.kind} lattice; read it through the Store API`,
    );
  }
  return l.bytes;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidArgumentError(`${what} must be encoded bytes`);
  return v;
}

function bytesList(v: unknown, what: string): Uint8Array[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError(`${what} must be an array`);
  return v.map((x, i) => bytes(x, `${what}[${i}]`));
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

import { InvalidArgumentError } from "../errors/index.js";
import {
  bool,
  bytes,
  exact,
  finite,
  int,
  isRecord,
  listOf,
  nonEmptyStr,
  recordOf,
  str,
} from "./shape.js";
import type { Check } from "./shape.js";

/**
 * The exact shapes of the gateway's request payloads, by method. The gateway reads only what a
 * payload has passed here, so a payload with an unknown key, a wrong type, an inherited property
 * or an oversized field is refused with `INVALID_ARGUMENT` before any handler code sees it.
 * Semantic checks (names, DAG structure, function source) stay with the gateway.
 */

const name = str(256);
const key = nonEmptyStr(4096);
const args = listOf(bytes);
const refList = listOf(key);
const callOptions = exact(
  {},
  {
    timeoutMs: finite,
    future: bool,
    consistency: str(32),
    requestId: nonEmptyStr(128),
    retry: bool,
  },
);
const txnStart = nonEmptyStr(32);
const tid = nonEmptyStr(128);
const epoch = int(1, 1_000_000);
const writeEntry: Check = (v) =>
  Array.isArray(v) &&
  v.length === 3 &&
  key(v[0]) &&
  (v[1] === 0 || v[1] === 1) &&
  (v[2] === null || bytes(v[2]));
const dagSpec = exact(
  { functions: listOf(name, 4096) },
  { edges: listOf(listOf(name, 2), 16_384), anyOf: listOf(name, 4096), consistency: str(32) },
);

const SHAPES: Record<string, Check> = {
  "fn.register": exact(
    { name, source: str(Number.MAX_SAFE_INTEGER) },
    {
      kind: (k) => k === "source" || k === "module",
      exportName: str(256),
      init: str(Number.MAX_SAFE_INTEGER),
      timeoutMs: finite,
    },
  ),
  "dag.register": exact({ name, spec: dagSpec }),
  call: exact({ fn: name }, { args, refs: refList, options: callOptions }),
  "dag.call": exact(
    { dag: name },
    { inputs: recordOf(args, 4096), refs: recordOf(refList, 4096), options: callOptions },
  ),
  "future.get": exact({ id: nonEmptyStr(256) }, { timeoutMs: finite }),
  "future.delete": exact({ id: nonEmptyStr(256) }),
  "kv.get": exact({ key }),
  "kv.getLattice": exact({ key }),
  "kv.put": exact({ key, value: bytes }),
  "kv.merge": exact({ key, lattice: bytes }),
  "kv.delete": exact({ key }),
  status: exact({}),
  schedule: exact(
    { name, cron: str(256) },
    { fn: name, args, dag: name, inputs: recordOf(args, 4096) },
  ),
  unschedule: exact({ name }),
  schedules: exact({}),
  "txn.begin": exact({}, { tid }),
  "txn.read": exact({ tid, key, start: txnStart }, { epoch, n: int(0, 1_000_000) }),
  "txn.abort": exact({ tid }, { epoch }),
  "txn.commit": exact({
    tid,
    epoch,
    start: txnStart,
    writes: listOf(writeEntry, 100_000),
  }),
};

/** The gateway's methods, for role checks: everything a client may ask of a scheduler. */
export const GATEWAY_METHODS: ReadonlySet<string> = new Set(Object.keys(SHAPES));

/**
 * Checks a gateway request's payload and returns it as a record. A missing payload counts as `{}`.
 *
 * @throws InvalidArgumentError for an unknown method or a payload of the wrong shape.
 * @example
 * ```ts
 * const p = checkPayload("kv.get", { key: "k" }); // { key: "k" }
 * checkPayload("kv.get", { key: "k", extra: 1 }); // throws INVALID_ARGUMENT
 * ```
 */
export function checkPayload(method: string, payload: unknown): Record<string, unknown> {
  const check = Object.hasOwn(SHAPES, method) ? SHAPES[method] : undefined;
  if (check === undefined) throw new InvalidArgumentError(`unknown method ${method.slice(0, 64)}`);
  const p = payload === undefined || payload === null ? {} : payload;
  if (!isRecord(p) || !check(p)) {
    const keys = isRecord(p) ? Object.keys(p).slice(0, 16).join(", ") : typeof p;
    throw new InvalidArgumentError(
      `malformed ${method} request: unexpected keys or types (got ${keys})`,
      { details: { method } },
    );
  }
  return p;
}

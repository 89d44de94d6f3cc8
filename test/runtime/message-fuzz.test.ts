/**
 * Message-level fuzzing of a live `stratus up` child process (scheduler and node in one): fast-check
 * generates valid messages of every peer notification (trigger, result, fnmsg, future) and every
 * gateway request, mutates most of them (dropped keys, extra and prototype-named keys, fields
 * replaced by arbitrary values, `fn: "toString"`), and sends 10,000 over authenticated
 * connections of every role. A crash would show as the child's exit. Afterwards the child is
 * still running and a normal DAG call succeeds. The two inputs that used to take the process
 * down (the `toString` trigger, a 130 MiB result) are explicit cases.
 *
 * Replay a failure with `FUZZ_SEED=<seed>`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Stratus, encodeValue, isStratusError } from "../../src/index.js";
import { connect } from "../../src/wire/index.js";
import type { Connection, PeerRole } from "../../src/wire/index.js";
import { stratusUp } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0xf022);
const MESSAGES = 10_000;
const NODE_ID = "fuzznode";
const MiB = 1024 * 1024;

type Msg = { kind: "notify" | "request"; method: string; payload: unknown };

/** The valid messages, as arbitraries, given the child's address. */
function validMessages(url: string): fc.Arbitrary<Msg> {
  const bytes = fc.integer().map((x) => encodeValue(x));
  const addr = fc.constantFrom(url, "stratus://127.0.0.1:1", "not a url");
  const meta = fc.record({
    run: fc.uuid(),
    attempt: fc.nat(3),
    consistency: fc.constant("lww"),
    deadline: fc.constant(Date.now() + 600_000),
    reply: fc.record({ addr, req: fc.nat(1000) }),
    session: fc.constant({}),
  });
  const trigger = fc.record({
    meta,
    schedule: fc.constant({ inc: { node: NODE_ID, addr: url, next: [], prev: [] } }),
    fn: fc.constant("inc"),
    args: fc.array(bytes, { maxLength: 2 }),
  });
  const wireErr = fc.record({
    code: fc.constant("INTERNAL"),
    message: fc.string(),
    retryable: fc.boolean(),
  });
  const result = fc.record({
    run: fc.uuid(),
    attempt: fc.nat(3),
    req: fc.nat(1000),
    ok: fc.boolean(),
    v: bytes,
    e: wireErr,
  });
  const fnmsg = fc.record({ to: fc.constant(`${NODE_ID}.1`), from: fc.string(), payload: bytes });
  const future = fc.record({ id: fc.uuid(), ok: fc.boolean(), v: bytes });
  const key = fc.constantFrom("k1", "k2", "k3");
  const opts = fc.record(
    { timeoutMs: fc.constant(5000), future: fc.boolean() },
    { requiredKeys: [] },
  );
  const notify = (method: string, a: fc.Arbitrary<unknown>): fc.Arbitrary<Msg> =>
    a.map((payload) => ({ kind: "notify", method, payload }));
  const request = (method: string, a: fc.Arbitrary<unknown>): fc.Arbitrary<Msg> =>
    a.map((payload) => ({ kind: "request", method, payload }));
  return fc.oneof(
    notify("trigger", trigger),
    notify("result", result),
    notify("fnmsg", fnmsg),
    notify("future", future),
    notify("wire.idle", fc.constant(undefined)),
    request(
      "fn.register",
      fc.record({ name: fc.constantFrom("fz0", "fz1"), source: fc.constant("(ctx, x) => x") }),
    ),
    request(
      "dag.register",
      fc.constant({
        name: "fd",
        spec: { functions: ["inc", "square"], edges: [["inc", "square"]] },
      }),
    ),
    request(
      "call",
      fc.record({
        fn: fc.constantFrom("inc", "square", "nope"),
        args: fc.array(bytes, { maxLength: 1 }),
        refs: fc.constant([]),
        options: opts,
      }),
    ),
    request(
      "dag.call",
      fc.record({
        dag: fc.constant("pipeline"),
        inputs: fc.record({ inc: fc.array(bytes, { minLength: 1, maxLength: 1 }) }),
        refs: fc.constant({}),
        options: opts,
      }),
    ),
    request("future.get", fc.record({ id: fc.uuid(), timeoutMs: fc.constant(10) })),
    request("kv.get", fc.record({ key })),
    request("kv.put", fc.record({ key, value: bytes })),
    request("kv.delete", fc.record({ key })),
    request("status", fc.constant({})),
    request("cluster.info", fc.constant({})),
  );
}

const KEYS = ["toString", "__proto__", "constructor", "hasOwnProperty", "valueOf", "extra", ""];

/** Applies one mutation at a random depth of a message's payload. */
function mutate(
  payload: unknown,
  op: number,
  pathSeed: number,
  value: unknown,
  key: string,
): unknown {
  const clone = structuredClone<unknown>(payload);
  let target = clone;
  let seed = pathSeed;
  // Walk down a few levels, so nested fields (meta.reply, schedule entries) are hit too.
  while (typeof target === "object" && target !== null && seed % 3 !== 0) {
    const keys = Object.keys(target);
    const next = (target as Record<string, unknown>)[keys[seed % Math.max(1, keys.length)] ?? ""];
    if (typeof next !== "object" || next === null || next instanceof Uint8Array) break;
    target = next;
    seed = Math.floor(seed / 3);
  }
  if (typeof target !== "object" || target === null) return op % 2 === 0 ? value : clone;
  const t = target as Record<string, unknown>;
  const keys = Object.keys(t);
  const k = keys[seed % Math.max(1, keys.length)];
  switch (op % 5) {
    case 0: // drop a field
      if (k !== undefined) delete t[k];
      break;
    case 1: // add an unknown or prototype-named field
      Object.defineProperty(t, key, {
        value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
      break;
    case 2: // a field of the wrong type
      if (k !== undefined) t[k] = value;
      break;
    case 3: // names that exist on every object's prototype
      if (Object.hasOwn(t, "fn")) {
        t.fn = KEYS[seed % 4];
        if (Object.hasOwn(t, "schedule")) t.schedule = {};
      } else if (k !== undefined) t[k] = KEYS[seed % KEYS.length];
      break;
    default: // the whole payload replaced
      return value;
  }
  return clone;
}

function messages(url: string): fc.Arbitrary<Msg> {
  return fc
    .tuple(
      validMessages(url),
      fc.nat(9),
      fc.nat(),
      fc.anything({ maxDepth: 2, withTypedArray: true, withBigInt: false }),
      fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })),
    )
    .map(([m, op, pathSeed, value, key]) =>
      // Three in ten go through unchanged, so the valid paths run too.
      op < 3 ? m : { ...m, payload: mutate(m.payload, op, pathSeed, value, key) },
    );
}

describe("runtime: message fuzzing of a live process", () => {
  let up: Child & { url: string; token: string };
  let cloud: Stratus;
  let exited: number | string | null = null;
  const conns = new Map<PeerRole, Connection>();

  const dead = new WeakSet<Connection>();
  /** The role's connection, opened again if the process closed it. */
  const open = async (role: PeerRole): Promise<Connection> => {
    const c = conns.get(role);
    if (c !== undefined && !dead.has(c)) return c;
    const id = `fuzz-${role}-${randomUUID()}`;
    const fresh = await connect(up.url, { token: up.token, role, id });
    void fresh.closed.then(() => dead.add(fresh));
    conns.set(role, fresh);
    return fresh;
  };

  before(async () => {
    up = await stratusUp(["--demo", "--executors", "2", "--id", NODE_ID]);
    up.proc.on("exit", (code, signal) => (exited = code ?? signal));
    cloud = await Stratus.connect(up.url, { token: up.token });
    await cloud.register("huge", (_ctx, mib: number) => Buffer.alloc(mib * 1024 * 1024, 1));
  });
  after(async () => {
    for (const c of conns.values()) await c.close();
    await cloud.close();
    await up.stop();
  });

  it('survives a trigger naming fn "toString" with an empty schedule, from a peer', async () => {
    const node = await open("node");
    const meta = {
      run: randomUUID(),
      attempt: 0,
      consistency: "lww",
      deadline: Date.now() + 60_000,
      reply: { addr: up.url, req: 1 },
      session: {},
    };
    // Control: the same connection's well-formed trigger is acted on (the run executes).
    node.notify("trigger", {
      meta,
      schedule: { inc: { node: NODE_ID, addr: up.url, next: [], prev: [] } },
      fn: "inc",
      args: [encodeValue(1)],
    });
    for (const fn of ["toString", "constructor", "__proto__", "hasOwnProperty"])
      node.notify("trigger", { meta, schedule: {}, fn, args: [] });
    assert.equal(await node.request("cluster.info", {}).then((i) => typeof i), "object");
    assert.equal(await cloud.callDag("pipeline", { inc: [1] }), 4);
    assert.equal(exited, null);
  });

  it("answers a 130 MiB result with VALUE_TOO_LARGE and stays up", async () => {
    // Control: a 1 MiB result travels; the same function at 130 MiB is refused, not crashed on.
    const small = await cloud.call<Uint8Array>("huge", [1]);
    assert.equal(small.byteLength, MiB);
    await assert.rejects(cloud.call("huge", [130]), (e: unknown) => {
      assert.ok(isStratusError(e));
      assert.equal(e.code, "VALUE_TOO_LARGE");
      assert.ok((e.details?.bytes as number) >= 130 * MiB);
      return true;
    });
    const fut = await cloud.callDag("pipeline", { inc: [2] }, { future: true });
    assert.equal(await fut.get(), 9);
    assert.equal(exited, null);
  });

  it(`survives ${MESSAGES} generated and mutated messages from every role`, async () => {
    const roles: PeerRole[] = ["client", "node", "scheduler"];
    const sample = fc.sample(fc.tuple(messages(up.url), fc.constantFrom(...roles)), {
      numRuns: MESSAGES,
      seed: SEED,
    });
    let requests = 0;
    let answered = 0;
    let refused = 0;
    for (let i = 0; i < sample.length; i += 500) {
      const batch = sample.slice(i, i + 500);
      const pending: Promise<void>[] = [];
      for (const [m, role] of batch) {
        const c = await open(role);
        if (m.kind === "notify") {
          c.notify(m.method, m.payload);
          continue;
        }
        requests++;
        pending.push(
          c.request(m.method, m.payload, { timeoutMs: 2000 }).then(
            () => void answered++,
            (e: unknown) => {
              // Every refusal is a typed error (TIMEOUT for requests that wait long by design, such
              // as a future.get with a day-long deadline); a closed connection is reopened above.
              assert.ok(isStratusError(e), `${m.method}: ${String(e)}`);
              console.log(m.method, e.code, e.message.slice(0, 200));
              refused++;
            },
          ),
        );
      }
      await Promise.all(pending);
      assert.equal(exited, null, `the process exited after message ${i + batch.length}`);
    }
    assert.ok(
      requests > 1000 && answered > 100 && refused > 100,
      `${requests} ${answered} ${refused}`,
    );
    assert.equal(await cloud.callDag("pipeline", { inc: [3] }), 16);
    assert.equal(exited, null);
  });
});

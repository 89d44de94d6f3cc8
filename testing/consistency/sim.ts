/**
 * The session policies of three nodes inside this process, for counts of runs (10,000 per level,
 * a 100,000-run soak) that processes could not make within the suite's time budget: real node
 * caches (one lagging) over one real memory store, the real policies and the real Retwis
 * functions. What is simulated, and only that: the executors (functions run on the test's thread
 * with a ctx over the run's session) and the network between nodes (a peer request is a call of
 * the other node's policies). retwis.test.ts runs the same workload over real processes.
 */
import { randomUUID } from "node:crypto";
import { NodeCache } from "../../src/cache/index.js";
import {
  SessionPolicies,
  causal,
  repeatableRead,
  transactionalCausal,
} from "../../src/consistency/index.js";
import type { RunSession } from "../../src/consistency/index.js";
import { RETWIS_CODE, TIMELINE } from "./index.js";
import type { RetwisCloud } from "./index.js";
import { isStratusError } from "../../src/errors/index.js";
import {
  HybridClock,
  MemoryStore,
  decodeValue,
  encodeLattice,
  encodeValue,
  lattices,
} from "../../src/index.js";
import type { Lattice } from "../../src/index.js";
import type { Consistency, RunMeta } from "../../src/protocol/index.js";
import type { Membership, Peers } from "../../src/scheduler/index.js";
import type { FunctionContext } from "../../src/function/index.js";
import { UserState } from "../../src/state/index.js";

interface SimNode {
  id: string;
  cache: NodeCache;
  policies: SessionPolicies;
}

/** Where each function runs (as the process tests pin them). */
const PLACE: Record<string, string> = {
  rtw_tl1: "fresh1",
  rtw_tl2: "lag",
  rtw_post: "fresh1",
  rtw_reply: "fresh2",
  rtw_follow: "fresh2",
};

export class SimCluster implements RetwisCloud {
  readonly nodes = new Map<string, SimNode>();
  /** Runs started again after SNAPSHOT_CONFLICT or NODE_LOST. */
  retries = 0;
  /** Largest session metadata a trigger carried, in encoded bytes. */
  maxMetaBytes = 0;

  private constructor(readonly store: MemoryStore) {}

  static async start(lagMs = 150): Promise<SimCluster> {
    const sim = new SimCluster(await MemoryStore.open());
    const membership = { get: (id: string) => ({ id, addr: id }) } as unknown as Membership;
    const node = (addr: string): SimNode => sim.nodes.get(addr) as SimNode;
    const peers = {
      get: async (addr: string) => ({
        request: async (method: string, payload: unknown) =>
          node(addr).policies.handle(method, payload),
      }),
      notify: (addr: string, method: string, payload: unknown) =>
        queueMicrotask(() => void node(addr).policies.handle(method, payload)),
    } as unknown as Peers;
    for (const id of ["fresh1", "fresh2", "lag"]) {
      const cache = await NodeCache.open(sim.store, {
        prefix: "u/",
        lagInvalidationsMs: id === "lag" ? lagMs : 0,
      });
      const clock = new HybridClock({ node: id });
      const env = {
        nodeId: id,
        state: new UserState(cache, clock),
        cache,
        store: sim.store,
        clock,
        peers,
        membership,
      };
      const policies = new SessionPolicies(env, [
        repeatableRead(),
        causal(),
        transactionalCausal(),
      ]);
      sim.nodes.set(id, { id, cache, policies });
    }
    return sim;
  }

  async register(): Promise<void> {}
  async registerDag(): Promise<void> {}

  call(name: string, args: unknown[], o: { consistency: Consistency }): Promise<unknown> {
    return this.run(o.consistency, [name], args);
  }

  callDag(
    name: string,
    inputs: Record<string, unknown[]>,
    o: { consistency: Consistency },
  ): Promise<unknown> {
    if (name !== TIMELINE) throw new Error(`no DAG ${name}`);
    return this.run(o.consistency, ["rtw_tl1", "rtw_tl2"], inputs["rtw_tl1"] ?? []);
  }

  /** Functions besides Retwis's, and where they run. */
  define(name: string, node: string, fn: (ctx: FunctionContext, ...a: never[]) => unknown): void {
    this.extra[name] = fn as (c: FunctionContext, ...a: unknown[]) => unknown;
    PLACE[name] = node;
  }
  private readonly extra: Record<string, (c: FunctionContext, ...a: unknown[]) => unknown> = {};

  /** Runs a chain of functions, each on its node, retrying as the dispatcher does. */
  async run(level: Consistency, chain: string[], args: unknown[]): Promise<unknown> {
    const run = randomUUID();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(level, chain, args, run, attempt);
      } catch (e) {
        const code = isStratusError(e) ? e.code : "";
        if ((code !== "SNAPSHOT_CONFLICT" && code !== "NODE_LOST") || attempt >= 10) throw e;
        this.retries++;
      }
    }
  }

  private async attempt(
    level: Consistency,
    chain: string[],
    args: unknown[],
    run: string,
    attempt: number,
  ): Promise<unknown> {
    let meta: RunMeta = {
      run,
      attempt,
      consistency: level,
      deadline: Date.now() + 30_000,
      reply: { addr: "sim", req: 0 },
      session: {},
    };
    let input = args;
    let out: unknown;
    for (const [i, fn] of chain.entries()) {
      const n = this.nodes.get(PLACE[fn] as string) as SimNode;
      const session = n.policies.for(level).open(meta);
      try {
        const code = (RETWIS_CODE[fn] ?? this.extra[fn]) as (
          c: FunctionContext,
          ...a: unknown[]
        ) => unknown;
        out = await code(ctxOf(session), ...input);
      } catch (e) {
        if (i === chain.length - 1) await session.finish(false);
        throw e;
      }
      // Results cross the wire as bytes.
      input = [decodeValue(encodeValue(out))];
      if (i === chain.length - 1) await session.finish(true);
      else {
        meta = session.forward();
        this.maxMetaBytes = Math.max(this.maxMetaBytes, encodeValue(meta.session).byteLength);
      }
    }
    return decodeValue(encodeValue(out));
  }

  /** Pinned versions and runs holding pins, over all nodes and levels. */
  pinned(): { runs: number; pins: number } {
    let runs = 0;
    let pins = 0;
    for (const n of this.nodes.values()) {
      for (const level of ["repeatable-read", "transactional-causal"] as const) {
        const p = n.policies.for(level) as unknown as {
          pins: { table: { size: { runs: number; pins: number } } };
        };
        runs += p.pins.table.size.runs;
        pins += p.pins.table.size.pins;
      }
    }
    return { runs, pins };
  }

  async close(): Promise<void> {
    for (const n of this.nodes.values()) {
      await n.policies.close();
      await n.cache.close();
    }
    await this.store.close();
  }
}

/** The ctx a function sees, over one run's session (what the node's host operations do). */
function ctxOf(s: RunSession): FunctionContext {
  return {
    get: async (k: string) => {
      const r = await s.get(k);
      return r === undefined ? undefined : decodeValue(r.bytes);
    },
    put: (k: string, v: unknown) => s.put(k, encodeValue(v)),
    merge: (k: string, l: Lattice) => s.merge(k, encodeLattice(l)),
    delete: (k: string) => s.delete(k),
    lattices,
  } as unknown as FunctionContext;
}

/**
 * A Retwis-style application (post, reply, follow, read a timeline) as Stratus functions, and a
 * driver that runs it with concurrent writers and readers and checks every timeline run. Shared
 * by the consistency tests and the `consistency` benchmark.
 *
 * Data: `<ns>/posts/<u>` holds user u's latest posts, `{ seq, items }`, written only by u's writer
 * (so `seq` numbers its versions); a reply item names its parent `{ key, seq, id }`: the parent
 * list's version it was read at. `<ns>/fol/<u>` is a set of the users u follows.
 *
 * The timeline is a DAG of two functions, meant to be placed on two nodes: `rtw_tl1` reads the
 * lists of u and of whom u follows; `rtw_tl2` reads them again and then the parents of the
 * replies seen (as a client renders threads). Both log what they read; the checker judges the log.
 */
import type { FunctionContext } from "../../src/function/index.js";
import type { Consistency } from "../../src/protocol/index.js";
import { AnomalyTally } from "./checker.js";
import type { Anomaly, ReadRecord } from "./checker.js";

/** What the driver needs of a client (a `Stratus`). */
export interface RetwisCloud {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  register(name: string, fn: (ctx: FunctionContext, ...args: any[]) => unknown): Promise<unknown>;
  registerDag(
    name: string,
    spec: { functions: string[]; edges: [string, string][] },
  ): Promise<unknown>;
  call(name: string, args: unknown[], options: { consistency: Consistency }): Promise<unknown>;
  callDag(
    name: string,
    inputs: Record<string, unknown[]>,
    options: { consistency: Consistency },
  ): Promise<unknown>;
}

/** The timeline DAG's name. */
export const TIMELINE = "rtw_timeline";
/** Function names, for placement pins (`--pin rtw_tl2=<lagging node>`). */
export const RETWIS_FUNCTIONS = ["rtw_post", "rtw_reply", "rtw_follow", "rtw_tl1", "rtw_tl2"];

interface Posts {
  seq: number;
  items: { id: string; parent?: { key: string; seq: number; id: string } }[];
}

type Item = Posts["items"][number];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (ctx: FunctionContext, ...args: any[]) => unknown;

// The functions ship as source: each is self-contained (no free variables), hence the repeats.
export const RETWIS_CODE: Readonly<Record<string, Fn>> = {
  rtw_post: async (ctx: FunctionContext, key: string, prev: Posts, id: string) => {
    const next = { seq: prev.seq + 1, items: [...prev.items, { id }].slice(-6) };
    await ctx.put(key, next);
    return next;
  },
  rtw_reply: async (
    ctx: FunctionContext,
    key: string,
    prev: Posts,
    id: string,
    parentKey: string,
  ) => {
    const p = await ctx.get<Posts>(parentKey);
    const last = p?.items[p.items.length - 1];
    const item: Item =
      p === undefined || last === undefined
        ? { id }
        : { id, parent: { key: parentKey, seq: p.seq, id: last.id } };
    const next = { seq: prev.seq + 1, items: [...prev.items, item].slice(-6) };
    await ctx.put(key, next);
    return next;
  },
  rtw_follow: async (ctx: FunctionContext, key: string, other: number) => {
    await ctx.merge(key, ctx.lattices.set([other]));
  },
  rtw_tl1: async (ctx: FunctionContext, ns: string, u: number) => {
    const rec = (key: string, v: Posts | undefined): ReadRecord => {
      const deps: Record<string, number> = {};
      for (const it of v?.items ?? []) {
        if (it.parent !== undefined)
          deps[it.parent.key] = Math.max(deps[it.parent.key] ?? 0, it.parent.seq);
      }
      return { key, seq: v?.seq ?? 0, deps };
    };
    const fol = (await ctx.get<number[]>(`${ns}/fol/${u}`)) ?? [];
    const who = [u, ...fol.filter((x) => x !== u).sort((a, b) => a - b)].slice(0, 4);
    const keys = who.map((x) => `${ns}/posts/${x}`);
    const log: ReadRecord[] = [];
    for (const k of keys) log.push(rec(k, await ctx.get<Posts>(k)));
    return { keys, log };
  },
  rtw_tl2: async (ctx: FunctionContext, up: { keys: string[]; log: ReadRecord[] }) => {
    const rec = (key: string, v: Posts | undefined): ReadRecord => {
      const deps: Record<string, number> = {};
      for (const it of v?.items ?? []) {
        if (it.parent !== undefined)
          deps[it.parent.key] = Math.max(deps[it.parent.key] ?? 0, it.parent.seq);
      }
      return { key, seq: v?.seq ?? 0, deps };
    };
    const log = up.log.slice();
    for (const k of up.keys) log.push(rec(k, await ctx.get<Posts>(k)));
    const parents = new Set<string>();
    for (const r of log) for (const k of Object.keys(r.deps)) parents.add(k);
    for (const k of parents) log.push(rec(k, await ctx.get<Posts>(k)));
    return log;
  },
};

/** Registers the functions and the timeline DAG. */
export async function registerRetwis(cloud: RetwisCloud): Promise<void> {
  for (const [name, fn] of Object.entries(RETWIS_CODE)) await cloud.register(name, fn);
  await cloud.registerDag(TIMELINE, {
    functions: ["rtw_tl1", "rtw_tl2"],
    edges: [["rtw_tl1", "rtw_tl2"]],
  });
}

/** Options of {@link runRetwis}. */
export interface RetwisOptions {
  /** Key namespace; use a fresh one per level (causal levels store another kind of value). */
  ns: string;
  consistency: Consistency;
  /** Timeline runs to make and check. */
  runs: number;
  /** Users. @default 8 */
  users?: number;
  /** Concurrent timeline readers. @default 8 */
  readers?: number;
  /** Concurrent writers, each the only writer of its users. @default 2 */
  writers?: number;
  /** Writes per timeline run: writers wait for readers when ahead. @default 1 */
  writesPerRun?: number;
  /** Each run's log and what the checker found in it. */
  onRun?: (log: ReadRecord[], found: Set<Anomaly>) => void;
}

/** What {@link runRetwis} measured. */
export interface RetwisResult {
  tally: AnomalyTally;
  /** Latency of each timeline run, ms. */
  readMs: number[];
  /** Latency of each write (post, reply, follow), ms. */
  writeMs: number[];
  /** Failed calls by error code. */
  errors: Record<string, number>;
  /** Failed timeline runs (a subset of `errors`) by error code. */
  readErrors: Record<string, number>;
}

/**
 * Seeds the users (a post each; each follows the next two), then runs `runs` timelines while the
 * writers post, reply and follow, and checks every timeline.
 */
export async function runRetwis(cloud: RetwisCloud, o: RetwisOptions): Promise<RetwisResult> {
  const users = o.users ?? 8;
  const opts = { consistency: o.consistency };
  const posts = (u: number): string => `${o.ns}/posts/${u}`;
  const prev: Posts[] = [];
  for (let u = 0; u < users; u++) {
    prev.push(
      (await cloud.call("rtw_post", [posts(u), { seq: 0, items: [] }, `${u}.0`], opts)) as Posts,
    );
    for (const f of [1, 2])
      await cloud.call("rtw_follow", [`${o.ns}/fol/${u}`, (u + f) % users], opts);
  }
  const res: RetwisResult = {
    tally: new AnomalyTally(),
    readMs: [],
    writeMs: [],
    errors: {},
    readErrors: {},
  };
  const fail = (e: unknown): void => {
    const code = (e as { code?: unknown }).code;
    const k = typeof code === "string" ? code : "INTERNAL";
    res.errors[k] = (res.errors[k] ?? 0) + 1;
  };
  let started = 0;
  let done = false;
  let writes = 0;
  // Writers pace themselves on finished runs (an event), not on time.
  let tick: () => void = () => undefined;
  let ticked = new Promise<void>((r) => (tick = r));
  const ratio = o.writesPerRun ?? 1;
  const writer = async (w: number, nw: number): Promise<void> => {
    let n = 0;
    while (!done) {
      if (writes >= (res.tally.runs + 1) * ratio) {
        await ticked;
        continue;
      }
      writes++;
      const u = w + nw * Math.floor(Math.random() * Math.ceil((users - w) / nw));
      const p = prev[u] as Posts;
      const r = Math.random();
      const t0 = performance.now();
      try {
        if (r < 0.1) {
          const other = Math.floor(Math.random() * users);
          await cloud.call("rtw_follow", [`${o.ns}/fol/${u}`, other], opts);
        } else {
          const id = `${u}.${++n}`;
          const parent = (u + 1 + Math.floor(Math.random() * (users - 1))) % users;
          prev[u] = (
            r < 0.5
              ? await cloud.call("rtw_post", [posts(u), p, id], opts)
              : await cloud.call("rtw_reply", [posts(u), p, id, posts(parent)], opts)
          ) as Posts;
        }
        res.writeMs.push(performance.now() - t0);
      } catch (e) {
        // The write may have landed: never reuse its version number.
        prev[u] = { seq: p.seq + 1, items: p.items };
        fail(e);
      }
    }
  };
  const reader = async (): Promise<void> => {
    while (started < o.runs) {
      started++;
      const u = Math.floor(Math.random() * users);
      const t0 = performance.now();
      try {
        const log = (await cloud.callDag(TIMELINE, { rtw_tl1: [o.ns, u] }, opts)) as ReadRecord[];
        res.readMs.push(performance.now() - t0);
        const found = res.tally.add(log);
        o.onRun?.(log, found);
      } catch (e) {
        fail(e);
        const code = (e as { code?: unknown }).code;
        const k = typeof code === "string" ? code : "INTERNAL";
        res.readErrors[k] = (res.readErrors[k] ?? 0) + 1;
      }
      const t = tick;
      ticked = new Promise<void>((r) => (tick = r));
      t();
    }
  };
  const nw = Math.min(o.writers ?? 2, users);
  const writers = Array.from({ length: nw }, (_, w) => writer(w, nw));
  await Promise.all(Array.from({ length: o.readers ?? 8 }, reader));
  done = true;
  tick();
  await Promise.all(writers);
  return res;
}

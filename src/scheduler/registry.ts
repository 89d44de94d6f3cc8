import { randomUUID } from "node:crypto";
import { NoSuchDagError, NoSuchFunctionError, StratusError } from "../errors/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { KEYS } from "./protocol.js";
import type { DagDef, FunctionDef } from "./protocol.js";

/**
 * Function and DAG definitions, kept in storage so every scheduler and node sees the same ones.
 * Reads are served from a local copy that the store's change stream keeps fresh, so placing a
 * call costs no storage round trip.
 *
 * @example
 * ```ts
 * const registry = await Registry.open(store, clock);
 * await registry.putFunction({ name: "inc", kind: "source", source: "(ctx, x) => x + 1" });
 * (await registry.fn("inc")).version; // a fresh id per registration
 * ```
 */
export class Registry {
  private readonly fns = new Map<string, Promise<FunctionDef | undefined>>();
  private readonly dags = new Map<string, Promise<DagDef | undefined>>();
  private subs: Subscription[] = [];

  private constructor(
    private readonly store: Store,
    private readonly clock: HybridClock,
  ) {}

  static async open(store: Store, clock: HybridClock): Promise<Registry> {
    const r = new Registry(store, clock);
    r.subs = await Promise.all([
      store.subscribe(KEYS.fn, (e) => {
        if (e.kind === "reset") r.fns.clear();
        else r.fns.delete(e.key.slice(KEYS.fn.length));
      }),
      store.subscribe(KEYS.dag, (e) => {
        if (e.kind === "reset") r.dags.clear();
        else r.dags.delete(e.key.slice(KEYS.dag.length));
      }),
    ]);
    return r;
  }

  async putFunction(def: Omit<FunctionDef, "version">): Promise<FunctionDef> {
    const full: FunctionDef = { ...def, version: randomUUID() };
    await this.replace(KEYS.fn + def.name, full);
    this.fns.set(def.name, Promise.resolve(full));
    return full;
  }

  async putDag(def: DagDef): Promise<void> {
    await this.replace(KEYS.dag + def.name, def);
    this.dags.set(def.name, Promise.resolve(def));
  }

  /**
   * Writes a definition so that it replaces the stored one everywhere, even when this process's
   * clock lags the one that wrote it: the stored version's time is observed first, and a write
   * that still loses (a registration raced it) is made again past the winner's time.
   */
  private async replace(key: string, def: unknown): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.store.get(key);
      if (cur?.kind === "lww") this.clock.observe(cur.ts);
      const mine = LwwLattice.of(def, this.clock.now());
      // Redis answers nothing for a write that lost: then read what won.
      const kept = (await this.store.put(key, mine)) ?? (await this.store.get(key));
      if (kept?.kind === "lww" && kept.ts === mine.ts) return;
    }
    throw new StratusError(
      "INTERNAL",
      `could not register ${key}: a registration with a clock far ahead of this one keeps winning`,
      { retryable: true },
    );
  }

  /** The function's definition; `NO_SUCH_FUNCTION` when none is registered. */
  async fn(name: string): Promise<FunctionDef> {
    const def = await this.lookup(this.fns, KEYS.fn, name);
    if (def === undefined)
      throw new NoSuchFunctionError(`no function named ${name}`, { details: { name } });
    return def;
  }

  /** The DAG's definition; `NO_SUCH_DAG` when none is registered. */
  async dag(name: string): Promise<DagDef> {
    const def = await this.lookup(this.dags, KEYS.dag, name);
    if (def === undefined) throw new NoSuchDagError(`no DAG named ${name}`, { details: { name } });
    return def;
  }

  async listFunctions(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.store.scan(KEYS.fn)) out.push(k.slice(KEYS.fn.length));
    return out.sort();
  }

  async listDags(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.store.scan(KEYS.dag)) out.push(k.slice(KEYS.dag.length));
    return out.sort();
  }

  private lookup<T>(
    cache: Map<string, Promise<T | undefined>>,
    prefix: string,
    name: string,
  ): Promise<T | undefined> {
    let p = cache.get(name);
    if (p === undefined) {
      p = this.store.get(prefix + name).then((l) => {
        if (l?.kind !== "lww") return undefined;
        this.clock.observe(l.ts);
        return l.value<T>();
      });
      cache.set(name, p);
      // A failed read must not be cached: the next lookup retries.
      p.catch(() => cache.get(name) === p && cache.delete(name));
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.close()));
  }
}

import { randomUUID } from "node:crypto";
import {
  InvalidArgumentError,
  NoSuchDagError,
  NoSuchFunctionError,
  StratusError,
} from "../errors/index.js";
import { LwwLattice } from "../lattice/index.js";
import type { HybridClock } from "../lattice/index.js";
import type { Store, Subscription } from "../storage/index.js";
import { Lookups } from "./lookups.js";
import type { LookupLimits } from "./lookups.js";
import { KEYS } from "../protocol/index.js";
import type { DagDef, FunctionDef } from "../protocol/index.js";

/** Where each function's recent versions are kept (one bounded list per function). */
export const FN_HISTORY = "sys/fnhist/";
/** Versions kept per function. */
export const VERSIONS_KEPT = 5;
/** Characters of source kept per version. */
export const VERSION_SOURCE_CHARS = 64 * 1024;

/** One registered version of a function, as {@link Registry.versions} lists it. */
export interface FunctionVersion {
  version: string;
  /** Epoch ms of the registration (the registering scheduler's clock). */
  registeredAt: number;
  kind: FunctionDef["kind"];
  /** The source it shipped, cut at {@link VERSION_SOURCE_CHARS} characters. */
  source: string;
  truncated: boolean;
}

function isVersion(v: unknown): v is FunctionVersion {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.version === "string" &&
    typeof o.registeredAt === "number" &&
    (o.kind === "source" || o.kind === "module") &&
    typeof o.source === "string" &&
    typeof o.truncated === "boolean"
  );
}

/**
 * Function and DAG definitions, kept in storage so every scheduler and node sees the same ones.
 * Reads are served from a local copy that the store's change stream keeps fresh, so placing a
 * call costs no storage round trip. The copy is bounded (see {@link LookupLimits}): names that
 * have no definition are remembered only briefly and only so many.
 *
 * @example
 * ```ts
 * const registry = await Registry.open(store, clock);
 * await registry.putFunction({ name: "inc", kind: "source", source: "(ctx, x) => x + 1" });
 * (await registry.fn("inc")).version; // a fresh id per registration
 * ```
 */
export class Registry {
  private readonly fns: Lookups<FunctionDef>;
  private readonly dags: Lookups<DagDef>;
  private subs: Subscription[] = [];

  private constructor(
    private readonly store: Store,
    private readonly clock: HybridClock,
    limits: LookupLimits,
  ) {
    this.fns = new Lookups((name) => this.fetch<FunctionDef>(KEYS.fn + name), limits);
    this.dags = new Lookups((name) => this.fetch<DagDef>(KEYS.dag + name), limits);
  }

  static async open(
    store: Store,
    clock: HybridClock,
    limits: LookupLimits = {},
  ): Promise<Registry> {
    for (const [field, v] of Object.entries(limits)) {
      if (v !== undefined && !(Number.isFinite(v) && (v as number) >= 0)) {
        throw InvalidArgumentError.field(field, "must be a finite number ≥ 0");
      }
    }
    const r = new Registry(store, clock, limits);
    r.subs = await Promise.all([
      store.subscribe(KEYS.fn, (e) => {
        if (e.kind === "reset") r.fns.clear();
        else r.fns.forget(e.key.slice(KEYS.fn.length));
      }),
      store.subscribe(KEYS.dag, (e) => {
        if (e.kind === "reset") r.dags.clear();
        else r.dags.forget(e.key.slice(KEYS.dag.length));
      }),
    ]);
    return r;
  }

  /** What the local copy holds (definitions, and names remembered as missing). */
  get held(): {
    fns: { found: number; missing: number };
    dags: { found: number; missing: number };
  } {
    return { fns: this.fns.size, dags: this.dags.size };
  }

  async putFunction(def: Omit<FunctionDef, "version">): Promise<FunctionDef> {
    const full: FunctionDef = { ...def, version: randomUUID() };
    await this.replace(KEYS.fn + def.name, full);
    this.fns.set(def.name, full);
    await this.remember(full);
    return full;
  }

  /**
   * The last {@link VERSIONS_KEPT} versions of a function, newest first, with the source each
   * shipped (cut at {@link VERSION_SOURCE_CHARS} characters) and when it was registered.
   */
  async versions(name: string): Promise<FunctionVersion[]> {
    const l = await this.store.get(FN_HISTORY + name);
    if (l?.kind !== "lww") return [];
    const v = l.value<unknown>();
    return Array.isArray(v) ? v.filter(isVersion) : [];
  }

  /**
   * Adds a registration to the function's bounded history. Two registrations racing may lose
   * one history entry (last writer wins); the definition itself is never lost, and a failed
   * write of the history does not fail the registration.
   */
  private async remember(def: FunctionDef): Promise<void> {
    try {
      const entry: FunctionVersion = {
        version: def.version,
        registeredAt: Date.now(),
        kind: def.kind,
        source: def.source.slice(0, VERSION_SOURCE_CHARS),
        truncated: def.source.length > VERSION_SOURCE_CHARS,
      };
      const kept = [entry, ...(await this.versions(def.name))].slice(0, VERSIONS_KEPT);
      await this.store.put(FN_HISTORY + def.name, LwwLattice.of(kept, this.clock.now()));
    } catch {
      // The history is for people looking at the dashboard; the registration stands without it.
    }
  }

  async putDag(def: DagDef): Promise<void> {
    await this.replace(KEYS.dag + def.name, def);
    this.dags.set(def.name, def);
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
    const def = await this.fns.get(name);
    if (def === undefined)
      throw new NoSuchFunctionError(`no function named ${name}`, { details: { name } });
    return def;
  }

  /** The DAG's definition; `NO_SUCH_DAG` when none is registered. */
  async dag(name: string): Promise<DagDef> {
    const def = await this.dags.get(name);
    if (def === undefined) throw new NoSuchDagError(`no DAG named ${name}`, { details: { name } });
    return def;
  }

  /**
   * Removes a function's definition; false when none was registered. Every scheduler forgets it
   * through the store's change stream, so calls then fail with `NO_SUCH_FUNCTION`.
   */
  async removeFunction(name: string): Promise<boolean> {
    const had = (await this.store.get(KEYS.fn + name)) !== undefined;
    await this.store.delete(KEYS.fn + name);
    // Its history goes with it: names come from clients, so a kept history would grow with every
    // name ever registered and removed.
    await this.store.delete(FN_HISTORY + name);
    this.fns.forget(name);
    return had;
  }

  /** Removes a DAG's definition; false when none was registered. */
  async removeDag(name: string): Promise<boolean> {
    const had = (await this.store.get(KEYS.dag + name)) !== undefined;
    await this.store.delete(KEYS.dag + name);
    this.dags.forget(name);
    return had;
  }

  /** Every registered function's definition, by name (one read each, past the local copy). */
  async functionDefs(): Promise<FunctionDef[]> {
    const defs = await Promise.all(
      (await this.listFunctions()).map((n) => this.fetch<FunctionDef>(KEYS.fn + n)),
    );
    return defs.filter((d): d is FunctionDef => d !== undefined);
  }

  /** Every registered DAG's definition, by name. */
  async dagDefs(): Promise<DagDef[]> {
    const defs = await Promise.all(
      (await this.listDags()).map((n) => this.fetch<DagDef>(KEYS.dag + n)),
    );
    return defs.filter((d): d is DagDef => d !== undefined);
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

  private async fetch<T>(key: string): Promise<T | undefined> {
    const l = await this.store.get(key);
    if (l?.kind !== "lww") return undefined;
    this.clock.observe(l.ts);
    return l.value<T>();
  }

  async close(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.close()));
  }
}

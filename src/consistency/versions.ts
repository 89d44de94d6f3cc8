import { createHash } from "node:crypto";
import { InvalidArgumentError, ValueTooLargeError } from "../errors/index.js";
import { MultiCausalLattice, VectorClock, encodeLattice } from "../lattice/index.js";
import type { Lattice, MultiCausalVersion } from "../lattice/index.js";
import { MAX_SESSION_KEYS } from "../protocol/index.js";
import type { DepRecord } from "../protocol/index.js";

export { MAX_SESSION_KEYS };
export type { DepRecord };

/**
 * Versions as the session levels see them: a tag that names one version of a key (equal tags,
 * equal values), and the layout of values written under `causal` and `transactional-causal`:
 * `mcausal` lattices whose versions carry a vector clock and the run's dependencies.
 */

/** Most entries of one vector clock in a session. */
export const MAX_CLOCK_ENTRIES = 64;

const tags = new WeakMap<Lattice, string>();

/**
 * A string naming this version of a value: a last-writer-wins value's timestamp, a causal value's
 * joined clock, or else a digest of the encoding. Computed once per (immutable) lattice object.
 */
export function versionTag(l: Lattice): string {
  let t = tags.get(l);
  if (t !== undefined) return t;
  if (l.kind === "lww") t = `l${l.ts}`;
  else if (l.kind === "mcausal" || l.kind === "causal") t = `c${l.clock.key()}`;
  else t = `h${createHash("sha1").update(encodeLattice(l)).digest("base64url")}`;
  tags.set(l, t);
  return t;
}

/** Dependencies as clocks, from their plain session form; throws INVALID_ARGUMENT on bad input. */
export function depsFrom(v: unknown, field: string): Map<string, VectorClock> {
  const out = new Map<string, VectorClock>();
  if (v === undefined) return out;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw InvalidArgumentError.field(field, "must be a map of key to vector clock");
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_SESSION_KEYS) throw tooLarge(field, entries.length);
  for (const [k, c] of entries) out.set(k, clockFrom(c, `${field}.${k}`));
  return out;
}

/** A vector clock from its plain form, bounded. */
export function clockFrom(c: unknown, field: string): VectorClock {
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw InvalidArgumentError.field(field, "must be a vector clock ({ node: counter })");
  }
  const e = Object.entries(c as Record<string, unknown>);
  if (e.length > MAX_CLOCK_ENTRIES) throw tooLarge(field, e.length);
  for (const [, n] of e) {
    if (typeof n !== "number") throw InvalidArgumentError.field(field, "counters are numbers");
  }
  return new VectorClock(e as [string, number][]);
}

/** The plain form of a dependency map, checked against the session bound. */
export function depsRecord(deps: ReadonlyMap<string, VectorClock>, field: string): DepRecord {
  if (deps.size > MAX_SESSION_KEYS) throw tooLarge(field, deps.size);
  const out: DepRecord = {};
  for (const [k, vc] of deps) out[k] = vc.toJSON();
  return out;
}

/** Joins `vc` into `deps[key]`. */
export function joinDep(deps: Map<string, VectorClock>, key: string, vc: VectorClock): void {
  if (vc.entries.size === 0) return;
  const cur = deps.get(key);
  deps.set(key, cur === undefined ? vc : cur.merge(vc));
}

/** Joins every dependency of `from` into `into`. */
export function joinDeps(
  into: Map<string, VectorClock>,
  from: ReadonlyMap<string, VectorClock>,
): void {
  for (const [k, vc] of from) joinDep(into, k, vc);
}

export function tooLarge(field: string, n: number): ValueTooLargeError {
  return new ValueTooLargeError(
    `session ${field} names ${n} entries; the bound is ${MAX_SESSION_KEYS} keys and ${MAX_CLOCK_ENTRIES} clock entries`,
    { details: { field, entries: n, limit: MAX_SESSION_KEYS } },
  );
}

/**
 * Numbers this node's causal writes. A write's clock is the clock of what it replaces with this
 * node's entry raised past both that entry and every earlier write of the node, so two writes of
 * one node never share a clock and a restarted node (starting from the wall clock) never repeats
 * one.
 */
export class CausalWriter {
  private counter = Date.now();

  constructor(readonly node: string) {}

  /** The clock of a new version replacing `base`. */
  next(base: VectorClock): VectorClock {
    this.counter = Math.max(this.counter + 1, base.get(this.node) + 1);
    return new VectorClock([...base.entries, [this.node, this.counter]]);
  }
}

/** One new causal version of `key`: `bytes` written after `base`, depending on `deps`. */
export function causalVersion(
  writer: CausalWriter,
  base: Lattice | undefined,
  bytes: Uint8Array,
  deps: ReadonlyMap<string, VectorClock>,
): MultiCausalLattice {
  const before = base !== undefined && base.kind === "mcausal" ? base.clock : new VectorClock();
  return new MultiCausalLattice([{ vc: writer.next(before), bytes, deps }]);
}

/**
 * The version `get` returns of a causal value holding concurrent siblings: the first in the
 * lattice's canonical order (sorted by clock), so every reader of the same value picks the same
 * one. `ctx.getVersions` returns them all.
 */
export function chosenVersion(l: MultiCausalLattice): MultiCausalVersion | undefined {
  return l.versions[0];
}

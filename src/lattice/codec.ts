import { Packr } from "msgpackr";
import { BadEncodingError } from "../errors/index.js";
import { CausalLattice, MultiCausalLattice } from "./causal.js";
import type { MultiCausalVersion } from "./causal.js";
import { CounterLattice } from "./counter.js";
import { isTimestamp } from "./hlc.js";
import type { Lattice } from "./lattice.js";
import { LwwLattice } from "./lww.js";
import { MapLattice } from "./map.js";
import { MaxLattice, MinLattice, PriorityLattice } from "./scalar.js";
import { OrderedSetLattice, SetLattice } from "./set.js";
import { VectorClock } from "./vector-clock.js";

/**
 * The canonical encoding of lattices: plain msgpack arrays, `[tag, ...fields]`, with user values
 * as opaque `bin` fields and maps as msgpack maps. Plain msgpack (no extensions, no records) is
 * what Redis's Lua `cmsgpack` reads, so the server-side merge scripts share this format.
 *
 * ```
 * ["lww", ts, bin]            ["set", [bin...]]          ["max", n]   ["min", n]
 * ["map", {key: lattice}]     ["oset", [[score, bin]...]] ["prio", n, bin]
 * ["vc", {node: n}]           ["causal", [[{node: n}, bin]...]]
 * ["mcausal", [[{node: n}, {key: {node: n}}, bin]...]]
 * ["counter", {writer: [up, down] or [up, down, floorUp, floorDown]}]
 * ```
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: false,
  variableMapSize: true,
  // Lua re-encodes integral numbers as msgpack ints; read them back as numbers, not BigInts.
  int64AsType: "number",
});

type Tree = unknown[];

function clockTree(vc: VectorClock): Map<string, number> {
  return new Map(vc.entries);
}

function toTree(l: Lattice): Tree {
  switch (l.kind) {
    case "lww":
      return ["lww", l.ts, l.bytes];
    case "set":
      return ["set", l.elements];
    case "max":
    case "min":
      return [l.kind, l.value];
    case "map":
      return ["map", new Map([...l.entries].map(([k, v]) => [k, toTree(v)]))];
    case "oset":
      return ["oset", l.entries.map((e) => [e.score, e.bytes])];
    case "prio":
      return ["prio", l.priority, l.bytes];
    case "vc":
      return ["vc", clockTree(l)];
    case "causal":
      return ["causal", l.versions.map((v) => [clockTree(v.vc), v.bytes])];
    case "mcausal":
      return [
        "mcausal",
        l.versions.map((v) => [
          clockTree(v.vc),
          new Map([...v.deps].map(([k, d]) => [k, clockTree(d)])),
          v.bytes,
        ]),
      ];
    case "counter":
      return [
        "counter",
        new Map(
          [...l.entries].map(([w, t]) => {
            const f = l.floors.get(w);
            return [w, f === undefined ? [t[0], t[1]] : [t[0], t[1], f[0], f[1]]];
          }),
        ),
      ];
  }
}

/** Encodes a lattice in the canonical format. Equal lattices encode to equal bytes. */
export function encodeLattice(l: Lattice): Uint8Array {
  return packr.pack(toTree(l));
}

function bad(what: string): never {
  throw new BadEncodingError(`not an encoded lattice: ${what}`);
}

function bin(x: unknown, what: string): Uint8Array {
  if (x instanceof Uint8Array) return x;
  return bad(`${what} is not binary`);
}

function num(x: unknown, what: string): number {
  if (typeof x === "number" && Number.isFinite(x)) return x;
  return bad(`${what} is not a finite number`);
}

function arr(x: unknown, what: string): unknown[] {
  if (Array.isArray(x)) return x;
  return bad(`${what} is not an array`);
}

function map(x: unknown, what: string): Map<unknown, unknown> {
  if (x instanceof Map) return x;
  // An empty msgpack map and an empty array are the same thing to Lua; accept either.
  if (Array.isArray(x) && x.length === 0) return new Map();
  return bad(`${what} is not a map`);
}

function clockFrom(x: unknown, what: string): VectorClock {
  const entries: [string, number][] = [];
  for (const [k, v] of map(x, what)) {
    if (typeof k !== "string") bad(`${what} has a non-string node id`);
    entries.push([k, num(v, `${what}[${k}]`)]);
  }
  return new VectorClock(entries);
}

function fromTree(t: unknown, depth: number): Lattice {
  if (depth > 64) bad("nesting deeper than 64 levels");
  const a = arr(t, "lattice");
  const tag = a[0];
  switch (tag) {
    case "lww": {
      if (!isTimestamp(a[1])) bad("lww timestamp is malformed");
      return new LwwLattice(a[1], bin(a[2], "lww value"));
    }
    case "set":
      return new SetLattice(arr(a[1], "set elements").map((e) => bin(e, "set element")));
    case "max":
      return new MaxLattice(num(a[1], "max value"));
    case "min":
      return new MinLattice(num(a[1], "min value"));
    case "map": {
      const entries: [string, Lattice][] = [];
      for (const [k, v] of map(a[1], "map entries")) {
        if (typeof k !== "string") bad("map key is not a string");
        entries.push([k, fromTree(v, depth + 1)]);
      }
      return new MapLattice(entries);
    }
    case "oset":
      return new OrderedSetLattice(
        arr(a[1], "oset entries").map((e) => {
          const pair = arr(e, "oset entry");
          return { score: num(pair[0], "oset score"), bytes: bin(pair[1], "oset element") };
        }),
      );
    case "prio":
      return new PriorityLattice(num(a[1], "priority"), bin(a[2], "priority value"));
    case "vc":
      return clockFrom(a[1], "vector clock");
    case "causal":
      return new CausalLattice(
        arr(a[1], "causal versions").map((v) => {
          const f = arr(v, "causal version");
          return { vc: clockFrom(f[0], "version clock"), bytes: bin(f[1], "causal value") };
        }),
      );
    case "mcausal":
      return new MultiCausalLattice(
        arr(a[1], "causal versions").map((v): MultiCausalVersion => {
          const f = arr(v, "causal version");
          const deps = new Map<string, VectorClock>();
          for (const [k, d] of map(f[1], "dependencies")) {
            if (typeof k !== "string") bad("dependency key is not a string");
            deps.set(k, clockFrom(d, `dependency ${k}`));
          }
          return { vc: clockFrom(f[0], "version clock"), deps, bytes: bin(f[2], "causal value") };
        }),
      );
    case "counter": {
      const entries: [string, [number, number]][] = [];
      const floors: [string, [number, number]][] = [];
      for (const [w, t] of map(a[1], "counter entries")) {
        if (typeof w !== "string") bad("counter writer is not a string");
        const f = arr(t, `counter[${w}]`);
        if (f.length !== 2 && f.length !== 4) bad(`counter[${w}] has ${f.length} totals`);
        entries.push([w, [num(f[0], "counter total"), num(f[1], "counter total")]]);
        if (f.length === 4)
          floors.push([w, [num(f[2], "counter floor"), num(f[3], "counter floor")]]);
      }
      return new CounterLattice(entries, floors);
    }
    default:
      return bad(`unknown tag ${JSON.stringify(tag)}`);
  }
}

/** Decodes bytes written by {@link encodeLattice}. Anything else throws `BAD_ENCODING`. */
export function decodeLattice(bytes: Uint8Array): Lattice {
  let tree: unknown;
  try {
    tree = packr.unpack(bytes);
  } catch (e) {
    throw new BadEncodingError(`not an encoded lattice: ${(e as Error).message}`, { cause: e });
  }
  try {
    return fromTree(tree, 0);
  } catch (e) {
    if (e instanceof BadEncodingError) throw e;
    throw new BadEncodingError(`not an encoded lattice: ${(e as Error).message}`, { cause: e });
  }
}

/** True when two lattices hold the same state. */
export function latticeEquals(a: Lattice, b: Lattice): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  return Buffer.compare(encodeLattice(a), encodeLattice(b)) === 0;
}

/** Bytes the lattice takes in the canonical encoding; cheap for LWW registers. */
export function encodedSize(l: Lattice): number {
  if (l.kind === "lww") return l.bytes.length + 40;
  return encodeLattice(l).length;
}

import { Packr } from "msgpackr";
import { BadEncodingError } from "../../errors/index.js";
import {
  CounterLattice,
  LwwLattice,
  MapLattice,
  OrderedSetLattice,
  SetLattice,
  asBuffer,
  decodeLattice,
  encodeLattice,
  isTimestamp,
} from "../../lattice/index.js";
import type { Lattice, OrderedEntry } from "../../lattice/index.js";

/**
 * How lattices map onto Redis values (see `scripts.ts` for the full layout): the script arguments
 * for a write, and the lattice back from what a read returns.
 */

const entryPackr = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: "number" });
const LWW_MARK = 0x4c; // "L"
const VALUE_MARK = 0x56; // "V"
const LWW_HEADER = 27;

/** Arguments of the merge script for one value, and their total size. */
export interface WriteArgs {
  kind: string;
  ts: string;
  items: (string | Uint8Array)[];
  bytes: number;
}

function elementField(bytes: Uint8Array): string {
  return ":" + asBuffer(bytes).toString("base64");
}

function marked(mark: number, header: string, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + header.length + body.length);
  out[0] = mark;
  out.write(header, 1, "latin1");
  out.set(body, 1 + header.length);
  return out;
}

export function writeArgs(value: Lattice): WriteArgs {
  switch (value.kind) {
    case "lww": {
      const s = marked(LWW_MARK, value.ts, value.bytes);
      return { kind: "lww", ts: value.ts, items: [s], bytes: s.length };
    }
    case "set": {
      const items = value.elements.map(elementField);
      return { kind: "set", ts: "", items, bytes: sum(items) };
    }
    case "oset": {
      const items = value.entries.map((e) => elementField(entryPackr.pack([e.score, e.bytes])));
      return { kind: "oset", ts: "", items, bytes: sum(items) };
    }
    case "counter": {
      const items: (string | Uint8Array)[] = [];
      let bytes = 0;
      for (const [w, [up, down]] of value.entries) {
        // 16 bytes of totals, then 16 of floors when the writer has one (left by a delete).
        const floor = value.floors.get(w);
        const t = Buffer.allocUnsafe(floor === undefined ? 16 : 32);
        t.writeDoubleBE(up, 0);
        t.writeDoubleBE(down, 8);
        if (floor !== undefined) {
          t.writeDoubleBE(floor[0], 16);
          t.writeDoubleBE(floor[1], 24);
        }
        items.push(w, t);
        bytes += w.length + t.length;
      }
      return { kind: "counter", ts: "", items, bytes };
    }
    case "map": {
      const items: (string | Uint8Array)[] = [];
      let bytes = 0;
      for (const [k, v] of value.entries) {
        const enc = encodeLattice(v);
        items.push(k, enc);
        bytes += k.length + enc.length;
      }
      return { kind: "map", ts: "", items, bytes };
    }
    default: {
      const s = marked(VALUE_MARK, "", encodeLattice(value));
      return { kind: value.kind, ts: "", items: [s], bytes: s.length };
    }
  }
}

function sum(items: string[]): number {
  let n = 0;
  for (const s of items) n += s.length;
  return n;
}

function bad(key: string, what: string): never {
  throw new BadEncodingError(`key ${JSON.stringify(key)}: ${what}`);
}

/** The lattice in a key stored as a string (LWW and whole-value kinds). */
export function fromString(key: string, s: Buffer): Lattice {
  if (s[0] === LWW_MARK && s.length >= LWW_HEADER) {
    const ts = s.toString("latin1", 1, LWW_HEADER);
    if (!isTimestamp(ts)) bad(key, "has a malformed timestamp");
    return new LwwLattice(ts, s.subarray(LWW_HEADER));
  }
  if (s[0] === VALUE_MARK) return decodeLattice(s.subarray(1));
  return bad(key, "holds a string Stratus did not write");
}

/** The lattice in a key stored as a hash (collections); `undefined` when the key vanished. */
export function fromHash(key: string, hash: Record<string, Buffer>): Lattice | undefined {
  const t = hash["t"]?.toString("latin1");
  if (t === undefined) {
    if (Object.keys(hash).length === 0) return undefined;
    return bad(key, "holds a hash Stratus did not write");
  }
  const fields = Object.keys(hash).filter((f) => f.startsWith(":"));
  if (t === "set") return new SetLattice(fields.map((f) => Buffer.from(f.slice(1), "base64")));
  if (t === "oset") {
    return new OrderedSetLattice(
      fields.map((f): OrderedEntry => {
        const pair = entryPackr.unpack(Buffer.from(f.slice(1), "base64")) as unknown;
        if (
          !Array.isArray(pair) ||
          typeof pair[0] !== "number" ||
          !(pair[1] instanceof Uint8Array)
        ) {
          bad(key, "has a malformed ordered-set entry");
        }
        return { score: pair[0], bytes: pair[1] };
      }),
    );
  }
  if (t === "counter") {
    const totals: [string, [number, number]][] = [];
    const floors: [string, [number, number]][] = [];
    for (const f of fields) {
      const v = hash[f] as Buffer;
      if (v.length !== 16 && v.length !== 32) bad(key, "has a malformed counter entry");
      totals.push([f.slice(1), [v.readDoubleBE(0), v.readDoubleBE(8)]]);
      if (v.length === 32) floors.push([f.slice(1), [v.readDoubleBE(16), v.readDoubleBE(24)]]);
    }
    try {
      return new CounterLattice(totals, floors);
    } catch (e) {
      return bad(key, `has a malformed counter: ${(e as Error).message}`);
    }
  }
  if (t === "map")
    return new MapLattice(fields.map((f) => [f.slice(1), decodeLattice(hash[f] as Buffer)]));
  return bad(key, `holds a hash of unknown kind ${JSON.stringify(t)}`);
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BadEncodingError, isStratusError } from "../../src/errors/index.js";
import {
  LwwLattice,
  MapLattice,
  MaxLattice,
  SetLattice,
  decodeLattice,
  decodeValue,
  encodeLattice,
  encodeValue,
  latticeEquals,
  makeTimestamp,
  mergeLattices,
} from "../../src/lattice/index.js";
import { anyLattice, byKind } from "./arbitraries.js";

describe("lattice/codec", () => {
  for (const [kind, arb] of Object.entries(byKind)) {
    it(`round-trips ${kind}`, () => {
      fc.assert(
        fc.property(arb, (l) => {
          const back = decodeLattice(encodeLattice(l));
          assert.equal(back.kind, l.kind);
          assert.ok(latticeEquals(back, l));
          assert.deepEqual(Buffer.from(encodeLattice(back)), Buffer.from(encodeLattice(l)));
        }),
        { numRuns: 200 },
      );
    });
  }

  it("decoding random bytes either yields a lattice or throws BAD_ENCODING, nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeLattice(bytes);
        } catch (e) {
          assert.ok(e instanceof BadEncodingError, `unexpected ${String(e)}`);
          assert.equal(e.code, "BAD_ENCODING");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("decoding truncated or corrupted encodings throws BAD_ENCODING", () => {
    fc.assert(
      fc.property(anyLattice, fc.nat(), fc.nat(255), (l, cut, flip) => {
        const enc = Buffer.from(encodeLattice(l));
        const truncated = enc.subarray(0, cut % enc.length);
        assert.throws(
          () => decodeLattice(truncated),
          (e) => isStratusError(e) && e.code === "BAD_ENCODING",
        );
        const corrupt = Buffer.from(enc);
        corrupt[0] = flip;
        try {
          decodeLattice(corrupt);
        } catch (e) {
          assert.ok(isStratusError(e) && e.code === "BAD_ENCODING");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("rejects well-formed msgpack of the wrong shape with a reason", () => {
    const cases: unknown[] = [
      ["lww", "not-a-timestamp", Buffer.from([1])],
      ["set", "x"],
      ["max", "7"],
      ["nope", 1],
      { a: 1 },
      ["map", new Map([[1, ["max", 1]]])],
    ];
    for (const c of cases) {
      assert.throws(
        () => decodeLattice(encodeValue(c)),
        (e: unknown) =>
          isStratusError(e) &&
          e.code === "BAD_ENCODING" &&
          /not an encoded lattice/.test(e.message),
      );
    }
  });

  it("decodeValue on garbage throws BAD_ENCODING", () => {
    assert.throws(
      () => decodeValue(Buffer.from([0xc1])),
      (e) => isStratusError(e) && e.code === "BAD_ENCODING",
    );
  });

  it("user values survive: dates, sets, typed arrays, nested objects", () => {
    const v = {
      d: new Date(5),
      set: new Set([1]),
      f: new Float64Array([1.5, 2]),
      s: "é",
      n: [1, null],
    };
    const l = LwwLattice.of(v, makeTimestamp(1, 0, 0));
    const back = decodeLattice(encodeLattice(l));
    assert.ok(back instanceof LwwLattice);
    assert.deepEqual(back.value(), v);
  });
});

describe("lattice/type mismatch", () => {
  it("merging different kinds throws LATTICE_TYPE_MISMATCH naming both kinds and the key", () => {
    assert.throws(
      () => mergeLattices(new MaxLattice(1), SetLattice.of([1]), "counter"),
      (e: unknown) =>
        isStratusError(e) &&
        e.code === "LATTICE_TYPE_MISMATCH" &&
        e.details?.["stored"] === "max" &&
        e.details["incoming"] === "set" &&
        e.details["key"] === "counter",
    );
  });
  it("a mismatch nested inside a map names the path", () => {
    const a = MapLattice.of({ x: MapLattice.of({ y: new MaxLattice(1) }) });
    const b = MapLattice.of({ x: MapLattice.of({ y: SetLattice.of([1]) }) });
    assert.throws(
      () => mergeLattices(a, b, "doc"),
      (e: unknown) => isStratusError(e) && e.details?.["key"] === "doc/x/y",
    );
  });
});

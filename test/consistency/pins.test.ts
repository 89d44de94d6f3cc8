/**
 * The pin table is bounded by bytes as well as by count: runs that each pin an 8 MiB version
 * are refused with OVERLOADED once 256 MiB are pinned (before, up to 1,000,000 pins of any size
 * were held), and releasing or expiring a run gives its bytes back.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PinTable } from "../../src/consistency/index.js";
import { HybridClock, LwwLattice } from "../../src/lattice/index.js";

const clock = new HybridClock({ node: "pins-test" });
const MiB = 1024 * 1024;

describe("pin table bounds", () => {
  it("refuses a pin past 256 MiB, and takes pins again once runs release theirs", () => {
    // One 8 MiB version pinned by many runs: each pin counts its size (the memory held at worst).
    const big = LwwLattice.of(new Uint8Array(8 * MiB), clock.now());
    const pins = new PinTable();
    const far = Date.now() + 60_000;
    try {
      let n = 0;
      for (; n < 64; n++) {
        try {
          pins.pin(`run-${n}`, far, "k", big);
        } catch (e) {
          assert.equal((e as { code?: string }).code, "OVERLOADED", String(e));
          assert.match(String(e), /bytes are pinned/);
          break;
        }
      }
      assert.equal(n, 31, `${n} pins of 8 MiB taken`);
      assert.ok(pins.size.bytes <= 256 * MiB, `${pins.size.bytes} bytes pinned`);
      assert.equal(pins.size.pins, 31);
      // A run's repeat of a key it pinned costs nothing: it gets its version back.
      assert.equal(pins.pin("run-0", far, "k", big), big);
      pins.release("run-0");
      pins.release("run-1");
      pins.pin("run-later", far, "k", big);
      pins.pin("run-later", far, "k2", LwwLattice.of("small", clock.now()));
      assert.equal(pins.size.pins, 31);
    } finally {
      pins.close();
    }
  });

  it("counts bytes back when a run's pins expire or are replaced", () => {
    let now = 0;
    const pins = new PinTable({ maxPinBytes: 1 * MiB, now: () => now });
    try {
      const half = LwwLattice.of(new Uint8Array(MiB / 2), clock.now());
      pins.pin("a", 10, "k", half);
      assert.throws(() => pins.pin("b", 10, "k", half), { code: "OVERLOADED" });
      // Replacing a's version frees the old one's bytes first.
      pins.repin("a", 10, "k", LwwLattice.of(new Uint8Array(16), clock.now()));
      pins.pin("b", 10, "k", half);
      now = 11;
      pins.sweep();
      assert.deepEqual(pins.size, { runs: 0, pins: 0, bytes: 0 });
    } finally {
      pins.close();
    }
  });
});

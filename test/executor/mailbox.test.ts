/**
 * Messages for recipients that are not running wait in a node's mailboxes, bounded in bytes and
 * in recipients: `ctx.send` to ids that never run (about 1 GB of them once) is refused past the
 * bound instead of held until the messages expire.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Mailboxes } from "../../src/node/mailbox.js";

describe("mailboxes for recipients not running", () => {
  it("keep messages up to the byte bound, then refuse more, and free the bytes when drained", () => {
    const boxes = new Mailboxes({ maxBytes: 10 << 20 });
    const mib = new Uint8Array(1 << 20);
    let kept = 0;
    for (let i = 0; i < 100; i++) if (boxes.deliver(`n1.${i}`, { m: mib })) kept++;
    assert.equal(kept, 10);
    assert.equal(boxes.refused, 90);
    assert.equal(boxes.size.bytes, 10 << 20);
    assert.equal(boxes.drain("n1.0").length, 1);
    assert.equal(boxes.deliver("n1.200", { m: mib }), true, "room again once drained");
  });

  it("keep messages for a bounded number of recipients", () => {
    const boxes = new Mailboxes({ maxBoxes: 100 });
    const small = new Uint8Array(8);
    let kept = 0;
    for (let i = 0; i < 1000; i++) if (boxes.deliver(`n1.${i}`, { m: small })) kept++;
    assert.equal(kept, 100);
    // More for a recipient that has a box already is taken.
    assert.equal(boxes.deliver("n1.5", { m: small }), true);
    assert.equal(boxes.size.boxes, 100);
  });
});

/**
 * The `cancel` notification is a peer message like `trigger`: a client's is dropped as
 * unauthorized, a malformed one as malformed, and a node's well-formed one reaches the node.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StratusProcess } from "../../src/local/index.js";
import { connect } from "../../src/wire/index.js";
import { until } from "../../testing/processes.js";

describe("dataflow: the cancel message's roles and shape", () => {
  const token = "cancel-token";
  let proc: StratusProcess;
  before(async () => {
    proc = await StratusProcess.start({ token, executors: 1, id: "cancelnode" });
  });
  after(async () => {
    await proc.close();
  });

  it("drops a client's cancel and a malformed one; acts on a node's", async () => {
    const cancel = { run: "r1", attempt: 0, fn: "f", deadline: Date.now() + 60_000 };
    const client = await connect(proc.url, { token, role: "client", id: "c1" });
    client.notify("cancel", cancel);
    await until(async () => proc.dropped.unauthorized === 1, 5000, "the client's cancel dropped");
    const node = await connect(proc.url, { token, role: "node", id: "n1" });
    node.notify("cancel", { ...cancel, fn: 7 });
    node.notify("cancel", { ...cancel, extra: true });
    await until(async () => proc.dropped.malformed === 2, 5000, "two malformed cancels dropped");
    assert.equal(proc.node?.cancels.received, 0);
    node.notify("cancel", cancel);
    await until(async () => proc.node?.cancels.received === 1, 5000, "the node's cancel received");
    assert.equal(proc.dropped.unauthorized, 1);
    assert.equal(proc.dropped.malformed, 2);
    await Promise.all([client.close(), node.close()]);
  });
});

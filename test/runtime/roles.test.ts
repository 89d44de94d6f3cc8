/**
 * Roles: a connection that said it is a client may make client requests only, and its peer
 * notifications (trigger, result, fnmsg) are dropped and counted; the same messages from a node
 * are acted on.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { UnauthorizedError, encodeValue } from "../../src/index.js";
import { StratusProcess } from "../../src/local/index.js";
import { connect } from "../../src/wire/index.js";
import { until } from "../../testing/processes.js";

describe("runtime: roles", () => {
  const token = "roles-token";
  let proc: StratusProcess;

  before(async () => {
    proc = await StratusProcess.start({ token, executors: 1, id: "rolesnode" });
  });
  after(async () => {
    await proc.close();
  });

  const trigger = (): unknown => ({
    meta: {
      run: randomUUID(),
      attempt: 0,
      consistency: "lww",
      deadline: Date.now() + 60_000,
      reply: { addr: proc.url, req: 1 },
      session: {},
    },
    schedule: { f: { node: "rolesnode", addr: proc.url, next: [], prev: [] } },
    fn: "f",
    args: [encodeValue(1)],
  });

  it("drops and counts peer notifications from a client, and acts on them from a node", async () => {
    const client = await connect(proc.url, { token, role: "client", id: "c1" });
    client.notify("trigger", trigger());
    client.notify("result", { run: "r", attempt: 0, req: 1, ok: true });
    client.notify("fnmsg", { to: "rolesnode.1", from: "x", payload: new Uint8Array(1) });
    await until(async () => proc.dropped.unauthorized === 3, 5000, "three drops");
    assert.equal(proc.dropped.malformed, 0);
    // Control: the same trigger from a node gets past the role check and is acted on (the node
    // looks its function up; nothing is dropped).
    const node = await connect(proc.url, { token, role: "node", id: "n2" });
    node.notify("trigger", trigger());
    node.notify("trigger", { ...(trigger() as object), fn: "toString", schedule: {} });
    await until(async () => proc.dropped.malformed === 1, 5000, "the malformed trigger's drop");
    assert.equal(proc.dropped.unauthorized, 3);
    await Promise.all([client.close(), node.close()]);
  });

  it("refuses a non-client request from a client with UNAUTHORIZED", async () => {
    const client = await connect(proc.url, { token, role: "client", id: "c2" });
    await assert.rejects(client.request("trigger", {}), UnauthorizedError);
    assert.equal(typeof (await client.request("status", {})), "object");
    // Control: a node asking the same gets past the role check (and is told the method is unknown).
    const node = await connect(proc.url, { token, role: "node", id: "n3" });
    await assert.rejects(
      node.request("trigger", {}),
      (e: Error) => !(e instanceof UnauthorizedError),
    );
    await Promise.all([client.close(), node.close()]);
  });
});

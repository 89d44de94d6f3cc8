/**
 * The `consistency` option: every level a caller names is checked where the run starts (call,
 * DAG call, DAG registration), and the node refuses a level it does not offer instead of
 * quietly running it as another.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Stratus } from "../../src/index.js";
import { SessionPolicies } from "../../src/consistency/index.js";
import type { SessionEnv } from "../../src/consistency/index.js";
import { isStratusError } from "../../src/errors/index.js";

describe("consistency option", () => {
  let cloud: Stratus;
  before(async () => {
    cloud = await Stratus.local({ executors: 1 });
    await cloud.register("one", async () => 1);
    await cloud.registerDag("d", { functions: ["one"] });
  });
  after(async () => {
    await cloud.close();
  });

  it("runs at the default level and at lww when asked", async () => {
    assert.equal(await cloud.call("one", [], { consistency: "lww" }), 1);
    assert.equal(await cloud.callDag("d", {}, { consistency: "lww" }), 1);
  });

  it("refuses an unknown level with INVALID_ARGUMENT on call and DAG call", async () => {
    const bogus = { consistency: "bogus" as "lww" };
    for (const run of [() => cloud.call("one", [], bogus), () => cloud.callDag("d", {}, bogus)]) {
      await assert.rejects(run(), (e: unknown) => {
        assert.ok(isStratusError(e));
        assert.equal(e.code, "INVALID_ARGUMENT");
        assert.match(e.message, /bogus/);
        return true;
      });
    }
  });

  it("refuses a DAG registered with an unknown default level", async () => {
    await assert.rejects(
      cloud.registerDag("bad", { functions: ["one"], consistency: "bogus" as "lww" }),
      (e: unknown) => isStratusError(e) && e.code === "BAD_DAG" && /bogus/.test(e.message),
    );
  });

  it("a node without a level's policy refuses runs at it", () => {
    const policies = new SessionPolicies({ state: {} } as unknown as SessionEnv, []);
    assert.equal(policies.for("lww").level, "lww");
    assert.throws(
      () => policies.for("causal"),
      (e: unknown) => isStratusError(e) && e.code === "INVALID_ARGUMENT",
    );
  });
});

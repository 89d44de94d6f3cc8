/**
 * What the CLI tells people: readable schedule times, next steps after `up` that work on what
 * the cluster holds, and what to do when the cluster `up` saved has stopped.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { formatSchedules, nextSteps, relativeTime } from "../../src/cli/hints.js";
import { startStratus } from "../../testing/processes.js";
import { freePort } from "../../testing/redis.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("cli: hints", () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "stratus-hints-"));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("writes times relative to now, in their largest unit", () => {
    const now = 1_800_000_000_000;
    assert.equal(relativeTime(now + 12_000, now), "in 12 s");
    assert.equal(relativeTime(now + 90_000, now), "in 2 min");
    assert.equal(relativeTime(now - 3 * 3_600_000, now), "3 h ago");
    assert.equal(relativeTime(now + 2 * 86_400_000, now), "in 2 d");
    assert.equal(relativeTime(now + 5, now), "in 5 ms");
  });

  it("lists schedules with ISO and relative next ticks", () => {
    const now = Date.UTC(2026, 11, 7, 18, 0, 0);
    const text = formatSchedules(
      [
        { name: "r", cron: "0 5 18 * * *", fn: "report", next: now + 300_000 },
        { name: "d", cron: "0 0 3 * * *", dag: "pipeline", next: null },
      ],
      now,
    );
    assert.equal(
      text,
      "r  0 5 18 * * *  fn report  next 2026-12-07T18:05:00.000Z (in 5 min)\n" +
        "d  0 0 3 * * *  dag pipeline  no next tick\n",
    );
    assert.equal(formatSchedules([], now), "no schedules\n");
  });

  it("suggests the demo's commands only with --demo", () => {
    assert.match(nextSteps("stratus", true), /stratus call inc/);
    const empty = nextSteps("stratus", false);
    assert.doesNotMatch(empty, /call inc|dag pipeline/);
    assert.match(empty, /stratus deploy functions\.ts/);
  });

  it("up without --demo prints the empty cluster's next steps", async () => {
    const up = await startStratus(
      ["up", "--token", "hints", "--executors", "1"],
      /(Next[^\n]*\n[^\n]*)\n/,
      { STRATUS_HOME: home },
    );
    try {
      assert.match(up.ready, /deploy functions\.ts/);
      assert.doesNotMatch(up.ready, /call inc/);
    } finally {
      await up.stop();
    }
  });

  it("says what to do when the saved cluster has stopped", async () => {
    const port = await freePort();
    const file = join(home, "cluster.json");
    await writeFile(file, JSON.stringify({ url: `stratus://127.0.0.1:${port}`, token: "t" }));
    const env: NodeJS.ProcessEnv = { ...process.env, STRATUS_HOME: home };
    delete env.STRATUS_URL;
    delete env.STRATUS_TOKEN;
    const r = await run(
      process.execPath,
      ["--import", "tsx", join(root, "src/cli/main.ts"), "fn", "list"],
      { cwd: root, env },
    ).then(
      () => assert.fail("fn list succeeded"),
      (e: { code?: number; stderr?: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr ?? "", /no cluster answers at stratus:\/\/127\.0\.0\.1:\d+/);
    assert.match(
      r.stderr ?? "",
      /saved in .*cluster\.json: that cluster has stopped\. Start one with `stratus up`/,
    );
  });
});

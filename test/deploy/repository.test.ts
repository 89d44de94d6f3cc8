/**
 * What the repository ships besides code: the license its package.json names, no Redis data or
 * package tarballs under version control (nor Redis servers started where they would write one),
 * and a README that speaks to users: no paths outside the repository, no talk of the machine it
 * was measured on or of the people around it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const git = async (args: string[]): Promise<string> =>
  (await run("git", args, { cwd: root })).stdout;

/** SHA-256 of the Apache License 2.0 as published (LICENSE-2.0.txt). */
const APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (e === "node_modules" || e === ".scratch") return [];
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

describe("repository: license, tracked files and the README", () => {
  it("has the Apache-2.0 license text that package.json names", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { license: string };
    assert.equal(pkg.license, "Apache-2.0");
    const text = readFileSync(join(root, "LICENSE"));
    assert.equal(createHash("sha256").update(text).digest("hex"), APACHE_2_0_SHA256);
  });

  it("tracks no Redis data or package tarballs, and ignores them", async () => {
    const tracked = (await git(["ls-files"])).split("\n");
    const stray = tracked.filter((f) =>
      /(^|\/)(dump\.rdb|appendonlydir\/.*)$|\.(rdb|tgz)$/.test(f),
    );
    assert.deepEqual(stray, []);
    // check-ignore exits 0 when the path is ignored.
    for (const f of ["stratus-0.1.0.tgz", "dump.rdb", "appendonlydir"]) {
      await git(["check-ignore", "--no-index", "-q", f]);
    }
    // Control: a source file is not ignored.
    await assert.rejects(git(["check-ignore", "--no-index", "-q", "src/index.ts"]));
  });

  it("starts every redis-server with its data directory and no snapshots in the repository", () => {
    const files = ["src", "test", "bench", "scripts"].flatMap((d) => sourceFiles(join(root, d)));
    const spawning = files.filter((f) => /spawn\(\s*"redis-server"/.test(readFileSync(f, "utf8")));
    assert.ok(spawning.length >= 1, "the Redis test helper was found");
    for (const f of spawning) {
      const text = readFileSync(f, "utf8");
      // --dir puts the append-only file and any snapshot elsewhere; --save "" takes none.
      assert.match(text, /"--dir",/, `${relative(root, f)} gives redis-server a --dir`);
      assert.match(text, /"--save",\s*""/, `${relative(root, f)} turns snapshots off`);
    }
  });

  it("has a README that stays inside the repository and speaks to users", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const targets = [
      ...[...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string),
      ...[...readme.matchAll(/`([^`\s]*\/[^`\s]*)`/g)].map((m) => m[1] as string),
      // URLs, anchors and absolute paths (routes such as `/v1/call/<fn>`) are not files.
    ].filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !/^[#/]/.test(t));
    assert.ok(targets.length > 10, `paths found in the README: ${targets.length}`);
    for (const t of targets) {
      const rel = relative(root, resolve(root, t.split(/[#?]/)[0] as string));
      assert.ok(!rel.startsWith(".."), `README points outside the repository: ${t}`);
    }
    for (const m of readme.matchAll(/\]\(([^)\s:#]+)(#[^)]*)?\)/g)) {
      assert.ok(statSync(join(root, m[1] as string), { throwIfNoEntry: false }), m[1]);
    }
    assert.doesNotMatch(
      readme,
      /load average|engineers|colleagues|quiet machine|this (\d+-core )?machine|other people/i,
    );
  });
});

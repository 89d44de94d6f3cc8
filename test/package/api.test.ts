/**
 * The public surface as committed: the declarations of every entry point, built with tsc, must
 * match api/stratus.api.txt. A change to what users can import fails here with the difference
 * and the command that accepts it, so it is seen in review.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { API_REPORT, UPDATE_COMMAND, apiReport, lineDiff } from "../../scripts/api-report.js";

const root = join(import.meta.dirname, "..", "..");

describe("package: the public API", () => {
  let report = "";
  before(() => {
    report = apiReport();
  });

  it(`matches ${API_REPORT}`, () => {
    const committed = readFileSync(join(root, API_REPORT), "utf8");
    if (report !== committed) {
      // Bounded: the test runner's reporter chokes on messages of hundreds of kilobytes.
      const diff = lineDiff(committed, report).split("\n");
      const shown = diff.slice(0, 300).join("\n");
      const more = diff.length > 300 ? `\n… ${diff.length - 300} more lines` : "";
      assert.fail(
        `The public API is not what ${API_REPORT} says (- committed, + now). If the change is ` +
          `meant, run \`${UPDATE_COMMAND}\` and commit the file.\n\n${shown}${more}`,
      );
    }
  });

  it("lists what applications use, with its declarations, and no internals", () => {
    // The names the root entry exports: its "## name, from …" headings.
    const entry = report.slice(report.indexOf("# stratus\n"), report.indexOf("# stratus: "));
    const names = [...entry.matchAll(/^## (\S+), from /gm)].map((m) => m[1]);
    for (const used of ["Stratus", "ref", "Flow", "lattices", "StratusError", "openStore"]) {
      assert.ok(names.includes(used), `${used} is not exported`);
    }
    const internals = ["valueHeader", "nodeHash", "checkKey", "toWireError", "registerErrorClass"];
    assert.deepEqual(
      internals.filter((n) => names.includes(n)),
      [],
    );
    const call =
      "    call<T = unknown>(name: CallName<T>, args?: unknown[], options?: CallOptions): Promise<T>;";
    assert.ok(entry.includes(`\n${call}\n`), "Stratus.call is declared as expected");
    assert.ok(report.includes("\n# stratus/ml\n"), "the stratus/ml entry is reported");
  });

  it("shows a changed declaration as a difference", () => {
    const changed = report.replace(
      "options?: CallOptions): Promise<T>;",
      "options?: CallOptions, x?: number): Promise<T>;",
    );
    const diff = lineDiff(report, changed).split("\n");
    assert.ok(
      diff.some((l) => l.startsWith("- ") && l.endsWith("options?: CallOptions): Promise<T>;")),
    );
    assert.ok(diff.some((l) => l.startsWith("+ ") && l.endsWith("x?: number): Promise<T>;")));
    assert.ok(diff.length < 20, "only the change and its context");
  });
});

/**
 * Compile-time tests: the fixtures in test/types/fixtures are type-checked as an application
 * would check them (strict, `module nodenext`), against the package's declarations as built and
 * laid out as installed. `pass.ts` must compile; every other fixture must fail with exactly the
 * errors its lines announce (`// error TS2345` at the end of the line), no more and no fewer, so
 * a typing that loosens (a wrong argument that compiles again) or tightens (a good use that stops
 * compiling) fails here.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import ts from "typescript";
import { buildPackage } from "../../testing/built-package.js";

const root = join(import.meta.dirname, "..", "..");
const fixtures = join(import.meta.dirname, "fixtures");
/** Fixtures other files import, not checked on their own. */
const HELPERS = new Set(["module.ts"]);

/** `file:line TS1234` for each error a fixture announces. */
function announced(file: string): string[] {
  const out: string[] = [];
  readFileSync(join(fixtures, file), "utf8")
    .split("\n")
    .forEach((line, i) => {
      for (const m of line.matchAll(/\/\/ error (TS\d+)/g)) out.push(`${file}:${i + 1} ${m[1]}`);
    });
  return out.sort();
}

describe("types: the fixtures against the built package's declarations", () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith(".ts") && !HELPERS.has(f));
  const found = new Map<string, string[]>();
  const messages = new Map<string, string>();

  before(async () => {
    const built = await buildPackage(join(root, ".tmp", "types"), { declarationsOnly: true });
    for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(built.app, f));
    const program = ts.createProgram(
      files.map((f) => join(built.app, f)),
      {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
        types: ["node"],
        noEmit: true,
      },
    );
    for (const f of files) found.set(f, []);
    for (const d of ts.getPreEmitDiagnostics(program)) {
      if (d.file === undefined || d.start === undefined) {
        assert.fail(
          `a diagnostic outside the fixtures: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`,
        );
      }
      const file = d.file.fileName.slice(built.app.length + 1);
      const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
      const key = `${file}:${line} TS${d.code}`;
      const list = found.get(file);
      if (list === undefined) assert.fail(`an error in ${file}: ${key}`);
      list.push(key);
      messages.set(key, ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    }
  });

  const show = (keys: string[]): string =>
    keys.map((k) => `${k}: ${messages.get(k) ?? "(expected, not reported)"}`).join("\n");

  for (const file of readdirSync(fixtures).filter((f) => f.endsWith(".ts") && !HELPERS.has(f))) {
    it(
      file === "pass.ts"
        ? "pass.ts: the good uses compile, with their types"
        : `${file}: fails exactly where announced`,
      () => {
        const want = announced(file);
        if (file === "pass.ts") assert.deepEqual(want, [], "pass.ts announces no errors");
        else assert.ok(want.length > 0, `${file} announces no error`);
        const got = (found.get(file) ?? []).sort();
        assert.deepEqual(got, want, `${file}:\n${show([...new Set([...got, ...want])])}`);
      },
    );
  }
});

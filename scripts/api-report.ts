/**
 * The package's public surface as text, for review: `npm run api:update` writes it to
 * api/stratus.api.txt, and test/package/api.test.ts fails with a diff when the sources no longer
 * match it. So a change to what users can import (a name added or dropped, a signature changed)
 * shows in the pull request that makes it.
 *
 * How: the declarations (.d.ts) are built with tsc as `npm run build` would (in memory, nothing is
 * written), then for each entry point of package.json's "exports" every exported name is listed
 * with its declaration as the .d.ts has it, comments and private members left out. Types the
 * exported ones refer to but that are not exported themselves follow, so a change to them shows
 * too.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "..");
/** Where the report lives, relative to the repository root. */
export const API_REPORT = "api/stratus.api.txt";
/** The command that rewrites the report. */
export const UPDATE_COMMAND = "npm run api:update";

/** The .d.ts of the sources, built in memory: absolute path to text. */
function buildDeclarations(outDir: string): Map<string, string> {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.build.json"),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) },
  );
  if (config === undefined) throw new Error("cannot read tsconfig.build.json");
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    declarationMap: false,
    sourceMap: false,
    outDir,
  };
  const program = ts.createProgram(config.fileNames, options);
  const files = new Map<string, string>();
  const emitted = program.emit(undefined, (name, text) => files.set(resolve(name), text));
  const errors = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter(
    (d) => d.category === ts.DiagnosticCategory.Error,
  );
  if (errors.length > 0) fail(errors);
  return files;
}

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => "\n",
  };
  throw new Error(ts.formatDiagnostics(diagnostics, host));
}

/** A program over the in-memory declarations (node_modules still read from disk). */
function declarationProgram(files: Map<string, string>, entries: string[]): ts.Program {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    types: ["node"],
    noEmit: true,
  };
  const host = ts.createCompilerHost(options);
  const dirs = new Set<string>();
  for (const f of files.keys())
    for (let d = dirname(f); d !== dirname(d); d = dirname(d)) dirs.add(d);
  // The compiler host reads the disk; the declarations come from memory first.
  const disk = ts.createCompilerHost(options);
  host.fileExists = (f) => files.has(resolve(f)) || disk.fileExists(f);
  host.readFile = (f) => files.get(resolve(f)) ?? disk.readFile(f);
  host.directoryExists = (d) => dirs.has(resolve(d)) || (disk.directoryExists?.(d) ?? false);
  host.getSourceFile = (f, language, onError) => {
    const text = files.get(resolve(f));
    return text === undefined
      ? disk.getSourceFile(f, language, onError)
      : ts.createSourceFile(f, text, language, true);
  };
  return ts.createProgram(entries, options, host);
}

/** The same order on every machine (localeCompare depends on the locale). */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

const isPrivate = (m: ts.ClassElement): boolean =>
  (m.name !== undefined && ts.isPrivateIdentifier(m.name)) ||
  (ts.canHaveModifiers(m) &&
    (ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword));

/** A declaration as the .d.ts has it, without comments or private members. */
function printDeclaration(node: ts.Node): string {
  let shown: ts.Node = ts.isVariableDeclaration(node) ? node.parent.parent : node;
  if (ts.isClassDeclaration(shown)) {
    shown = ts.factory.updateClassDeclaration(
      shown,
      shown.modifiers,
      shown.name,
      shown.typeParameters,
      shown.heritageClauses,
      shown.members.filter((m) => !isPrivate(m)),
    );
  }
  return printer.printNode(ts.EmitHint.Unspecified, shown, node.getSourceFile());
}

/** The declarations of our own sources that `node` refers to by name. */
function referenced(
  node: ts.Node,
  checker: ts.TypeChecker,
  ours: (f: string) => boolean,
): ts.Symbol[] {
  const out: ts.Symbol[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isClassElement(n) && isPrivate(n)) return;
    const name = ts.isTypeReferenceNode(n)
      ? n.typeName
      : ts.isExpressionWithTypeArguments(n)
        ? n.expression
        : ts.isTypeQueryNode(n)
          ? n.exprName
          : undefined;
    if (name !== undefined) {
      let s = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.left : name);
      if (s !== undefined && s.flags & ts.SymbolFlags.Alias) s = checker.getAliasedSymbol(s);
      const decl = s?.declarations?.[0];
      const isTypeParameter = s !== undefined && (s.flags & ts.SymbolFlags.TypeParameter) !== 0;
      if (
        s !== undefined &&
        !isTypeParameter &&
        decl !== undefined &&
        ours(decl.getSourceFile().fileName)
      ) {
        out.push(s);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return out;
}

/** The report of one entry point: its exports, then what they refer to that is not exported. */
function entryReport(program: ts.Program, entry: string, outDir: string, title: string): string {
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(entry);
  const moduleSymbol = file === undefined ? undefined : checker.getSymbolAtLocation(file);
  if (moduleSymbol === undefined) throw new Error(`no declarations for ${entry}`);
  const ours = (f: string): boolean => resolve(f).startsWith(outDir);
  const where = (d: ts.Declaration): string =>
    resolve(d.getSourceFile().fileName)
      .slice(outDir.length + 1)
      .replace(/\.d\.ts$/, "");
  const exported = new Set<ts.Symbol>();
  const lines = [`# ${title}`, ""];
  const queue: ts.Symbol[] = [];
  for (const e of [...checker.getExportsOfModule(moduleSymbol)].sort((a, b) =>
    byCodePoint(a.name, b.name),
  )) {
    const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
    exported.add(target);
    const decls = target.declarations ?? [];
    const renamed = target.name !== e.name ? ` (declared as ${target.name})` : "";
    lines.push(`## ${e.name}${renamed}, from ${decls[0] === undefined ? "?" : where(decls[0])}`);
    for (const d of decls) {
      lines.push(printDeclaration(d));
      queue.push(...referenced(d, checker, ours));
    }
    lines.push("");
  }
  // What the exports name without exporting it: shapes (interfaces, type aliases, enums) are
  // shown, as callers build and read them; classes are listed by name, as their members are
  // reached only through an exported declaration that names them (which is shown).
  const shapes: ts.Symbol[] = [];
  const classes: ts.Symbol[] = [];
  const seen = new Set<ts.Symbol>(exported);
  for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
    if (seen.has(s)) continue;
    seen.add(s);
    if (s.flags & ts.SymbolFlags.Class) {
      classes.push(s);
      continue;
    }
    shapes.push(s);
    for (const d of s.declarations ?? []) queue.push(...referenced(d, checker, ours));
  }
  const key = (s: ts.Symbol): string =>
    `${s.declarations?.[0] === undefined ? "" : where(s.declarations[0])} ${s.name}`;
  if (shapes.length > 0) {
    lines.push(`# ${title}: types not exported, but named by the declarations above`, "");
    for (const s of shapes.sort((a, b) => byCodePoint(key(a), key(b)))) {
      const decls = s.declarations ?? [];
      lines.push(`## ${s.name}, in ${decls[0] === undefined ? "?" : where(decls[0])}`);
      for (const d of decls) lines.push(printDeclaration(d));
      lines.push("");
    }
  }
  if (classes.length > 0) {
    lines.push(`# ${title}: classes not exported, but named by the declarations above`, "");
    for (const s of classes.sort((a, b) => byCodePoint(key(a), key(b)))) {
      const d = s.declarations?.[0];
      lines.push(`- ${s.name}, in ${d === undefined ? "?" : where(d)}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** package.json's entry points: import path (`stratus`, `stratus/ml`) and its .d.ts under dist. */
function entryPoints(): { title: string; types: string }[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    name: string;
    exports: Record<string, { types?: string }>;
  };
  return Object.entries(pkg.exports).map(([path, target]) => {
    if (target.types === undefined) throw new Error(`package.json exports ${path} has no types`);
    return { title: path === "." ? pkg.name : `${pkg.name}/${path.slice(2)}`, types: target.types };
  });
}

/**
 * The public surface of every entry point, as committed in {@link API_REPORT}.
 *
 * @example
 * ```ts
 * const text = apiReport(); // "# stratus\n\n## BadDagError, from errors/runtime\n…"
 * ```
 */
export function apiReport(): string {
  // Where the declarations would go; nothing is written there.
  const outDir = join(root, "dist");
  const files = buildDeclarations(outDir);
  const entries = entryPoints().map((e) => ({ ...e, file: resolve(root, e.types) }));
  const program = declarationProgram(
    files,
    entries.map((e) => e.file),
  );
  const header =
    `The public API of the package: every entry point's exports and their declarations.\n` +
    `Generated by scripts/api-report.ts; after changing the surface on purpose, run \`${UPDATE_COMMAND}\`.\n\n`;
  return header + entries.map((e) => entryReport(program, e.file, outDir, e.title)).join("\n");
}

/** Lines of `a` and `b` that differ, as `-` and `+` lines with a few lines of context. */
export function lineDiff(a: string, b: string, context = 2): string {
  const x = a.split("\n");
  const y = b.split("\n");
  // Longest common subsequence, from the end: fine for a report of a few thousand lines.
  const n = x.length;
  const m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] =
        x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: { op: " " | "-" | "+"; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      ops.push({ op: " ", line: x[i++]! });
      j++;
    } else if (j < m && (i >= n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      ops.push({ op: "+", line: y[j++]! });
    } else {
      ops.push({ op: "-", line: x[i++]! });
    }
  }
  const keep = ops.map((_o, k) =>
    ops.slice(Math.max(0, k - context), k + context + 1).some((c) => c.op !== " "),
  );
  const out: string[] = [];
  ops.forEach((o, k) => {
    if (keep[k] === true) out.push(`${o.op} ${o.line}`);
    else if (keep[k - 1] === true) out.push("  …");
  });
  return out.join("\n");
}

// `tsx scripts/api-report.ts` writes the report.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  writeFileSync(join(root, API_REPORT), apiReport());
  process.stdout.write(`wrote ${API_REPORT}\n`);
}

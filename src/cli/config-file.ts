/**
 * `--config <file>`: the options of `stratus up`, `scheduler` and `node` in a YAML or JSON file
 * (JSON is YAML). Keys are the long flags, in kebab-case or camelCase. Top-level keys apply to
 * every command that has the option; a section named after a command (`up:`, `scheduler:`,
 * `node:`) applies to that command only and wins over the top level, so one file can describe a
 * whole deployment. Flags given on the command line win over the file.
 *
 * ```yaml
 * store: redis://redis:6379
 * token-file: /etc/stratus/token
 * scheduler: { host: 0.0.0.0, port: 7400, http-port: 7480 }
 * node: { join: stratus://scheduler:7400, executors: 8 }
 * ```
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command, Option } from "commander";
import { parseDocument } from "yaml";
import { InvalidArgumentError } from "../errors/index.js";

/** The commands a config file can configure. */
export const CONFIG_COMMANDS = ["up", "scheduler", "node"] as const;

/** Options whose values are paths: relative ones are taken from the config file's folder. */
const PATHS = new Set(["tokenFile", "storePasswordFile", "tlsCert", "tlsKey", "tlsCa"]);
/** Options given together or not at all: a flag for one drops the file's value for the others. */
const GROUPS = [["token", "tokenFile"]];
/** Keys that are not options of any command. */
const NOT_OPTIONS = new Set(["config", "help"]);

const camel = (k: string): string => k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** The error every config problem raises: `config: <path> <problem>`. */
export class ConfigError extends InvalidArgumentError {
  constructor(path: string, problem: string) {
    super(`config: ${path === "" ? "" : `${path} `}${problem}`);
  }
}

/** Reads and parses a config file to a plain object (YAML or JSON). */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError("", `cannot read ${file}: ${(e as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [first] = doc.errors;
  if (first !== undefined) {
    throw new ConfigError("", `${file} is not valid YAML or JSON: ${first.message}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError("", `${file} must hold a mapping of options`);
  }
  return value as Record<string, unknown>;
}

/**
 * Checks a parsed config against the commands' commander definitions and returns the options it
 * gives `command` (camelCase, values checked, relative paths resolved against `baseDir`).
 */
export function configFor(
  config: Record<string, unknown>,
  command: Command,
  all: readonly Command[],
  baseDir: string,
): Record<string, unknown> {
  const known = new Map<string, Map<string, Option>>();
  for (const c of all) known.set(c.name(), optionsOf(c));
  const anyOption = (key: string): Option | undefined => {
    for (const opts of known.values()) {
      const o = opts.get(key);
      if (o !== undefined) return o;
    }
    return undefined;
  };
  const mine = known.get(command.name()) ?? optionsOf(command);
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(config)) {
    if (known.has(rawKey)) continue; // a section, below
    const key = camel(rawKey);
    const option = anyOption(key);
    if (option === undefined) throw unknownKey(rawKey, [...known.values()]);
    check(rawKey, value, option);
    if (mine.has(key)) out[key] = value;
  }
  const section = config[command.name()];
  if (section !== undefined) {
    if (typeof section !== "object" || section === null || Array.isArray(section)) {
      throw new ConfigError(command.name(), "must be a mapping of options");
    }
    for (const [rawKey, value] of Object.entries(section as Record<string, unknown>)) {
      const path = `${command.name()}.${rawKey}`;
      const option = mine.get(camel(rawKey));
      if (option === undefined) {
        throw new ConfigError(path, `is not an option of stratus ${command.name()}`);
      }
      check(path, value, option);
      out[camel(rawKey)] = value;
    }
  }
  for (const [k, v] of Object.entries(out)) {
    if (PATHS.has(k) && typeof v === "string") out[k] = resolve(baseDir, v);
  }
  // Other sections are checked too, so a mistake shows on whichever command reads the file.
  for (const c of all) {
    const other = config[c.name()];
    if (c.name() !== command.name() && other !== undefined) {
      configFor({ [c.name()]: other }, c, [c], baseDir);
    }
  }
  return out;
}

/**
 * Reads `file` and sets its options on `command` wherever the command line gave none.
 *
 * @example
 * ```ts
 * program.hook("preAction", (_p, cmd) => {
 *   const file = cmd.opts().config;
 *   if (typeof file === "string") applyConfigFile(cmd, file, processCommands);
 * });
 * ```
 */
export function applyConfigFile(command: Command, file: string, all: readonly Command[]): void {
  const values = configFor(readConfigFile(file), command, all, dirname(resolve(file)));
  const fromCli = (k: string): boolean => command.getOptionValueSource(k) === "cli";
  for (const [key, value] of Object.entries(values)) {
    if (fromCli(key)) continue;
    const group = GROUPS.find((g) => g.includes(key));
    if (group?.some(fromCli) === true) continue;
    command.setOptionValueWithSource(key, value, "config");
  }
}

function optionsOf(c: Command): Map<string, Option> {
  const m = new Map<string, Option>();
  for (const o of c.options) {
    const key = o.attributeName();
    if (!NOT_OPTIONS.has(key)) m.set(key, o);
  }
  return m;
}

function unknownKey(key: string, all: Map<string, Option>[]): ConfigError {
  const names = [...new Set(all.flatMap((m) => [...m.values()].map((o) => o.long ?? "")))]
    .map((l) => l.replace(/^--(no-)?/, ""))
    .filter((l) => l.length > 0 && !NOT_OPTIONS.has(l))
    .sort();
  const near = names.find((n) => distance(n, key) <= 2);
  return new ConfigError(
    key,
    `is not an option${near === undefined ? "" : ` (did you mean ${near}?)`}; options: ${names.join(", ")}, and sections ${CONFIG_COMMANDS.join(", ")}`,
  );
}

/** Checks one value against what its flag takes. */
function check(path: string, v: unknown, o: Option): void {
  if (o.negate || (!o.required && !o.optional)) {
    if (typeof v !== "boolean") throw new ConfigError(path, "must be true or false");
    return;
  }
  if (o.argChoices !== undefined) {
    if (typeof v !== "string" || !o.argChoices.includes(v)) {
      throw new ConfigError(path, `must be one of ${o.argChoices.join(", ")}`);
    }
    return;
  }
  if (o.attributeName() === "clockOffsetMs") {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new ConfigError(path, "must be a number");
    return;
  }
  if (
    o.flags.includes("<port>") ||
    o.flags.includes("<n>") ||
    o.flags.includes("<ms>") ||
    o.flags.includes("<mb>")
  ) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      throw new ConfigError(path, "must be a non-negative integer");
    }
    return;
  }
  if (o.attributeName() === "pin") {
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw new ConfigError(path, 'must be a list of "function=node-id" strings');
    }
    return;
  }
  if (typeof v !== "string" || v.length === 0) {
    throw new ConfigError(path, "must be a non-empty string");
  }
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

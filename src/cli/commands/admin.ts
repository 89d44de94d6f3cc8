/**
 * The daily commands on what a cluster holds: `fn list|describe|rm`, `dag list|describe|rm`,
 * `kv get|put|merge|rm`, `runs cancel`, and `dev` (deploy on every save). Lists print one line per entry (`--json` for
 * scripts); the rest print JSON.
 */
import type { Command } from "commander";
import type { Stratus } from "../../client/index.js";
import { InvalidArgumentError, NotFoundError } from "../../errors/index.js";
import { lattices } from "../../lattice/index.js";
import type { Lattice } from "../../lattice/index.js";
import { parseJson } from "../config.js";
import { deploy } from "../deploy.js";
import { watchAndDeploy } from "../dev.js";
import { client, withFlags } from "../flags.js";
import type { ClientFlags } from "../flags.js";
import type { CliOutput } from "../log.js";
import { cloudCall, print } from "./client.js";

interface ListFlags extends ClientFlags {
  json?: true;
}

/** `kv merge`'s flags: exactly one names the lattice to merge. */
export interface MergeFlags extends ClientFlags {
  counter?: number;
  set?: string;
  max?: number;
  min?: number;
}

const number = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${v} is not a number`);
  return n;
};

/** Registers `fn`, `kv` and `runs` on `program`, and `list|describe|rm` under `dag`. */
export function adminCommands(program: Command, dag: Command, out: CliOutput): void {
  const withCloud = <T>(o: ClientFlags, fn: (c: Stratus) => Promise<T>): Promise<T> =>
    cloudCall(o, out, fn);
  const list = (c: Command): Command => withFlags(c, client).option("--json", "print JSON");

  const fn = program.command("fn").description("list, describe and remove functions");
  list(fn.command("list").description("registered functions")).action(async (o: ListFlags) => {
    const fns = await withCloud(o, (c) => c.admin.functions());
    if (o.json === true) return print(fns);
    if (fns.length === 0) return void process.stdout.write("no functions registered\n");
    for (const f of fns) {
      const typed = f.schema === undefined ? "" : "  (schema)";
      process.stdout.write(`${f.name}  ${f.kind}  ${f.version}${typed}\n`);
    }
  });
  withFlags(
    fn.command("describe <name>").description("one function, and the DAGs that name it"),
    client,
  ).action(async (name: string, o: ClientFlags) =>
    print(await withCloud(o, (c) => c.admin.describeFunction(name))),
  );
  withFlags(
    fn.command("rm <name>").description("remove a function (remove its DAGs first)"),
    client,
  ).action(async (name: string, o: ClientFlags) => {
    const removed = await withCloud(o, (c) => c.admin.removeFunction(name));
    if (!removed) throw new NotFoundError(`no function named ${name}`);
    print({ removed });
  });

  list(dag.command("list").description("registered DAGs")).action(async (o: ListFlags) => {
    const dags = await withCloud(o, (c) => c.admin.dags());
    if (o.json === true) return print(dags);
    if (dags.length === 0) return void process.stdout.write("no DAGs registered\n");
    for (const d of dags) {
      const edges = d.edges.map(([a, b]) => `${a}->${b}`).join(" ");
      process.stdout.write(`${d.name}  ${edges.length > 0 ? edges : d.functions.join(" ")}\n`);
    }
  });
  withFlags(dag.command("describe <name>").description("one DAG's definition"), client).action(
    async (name: string, o: ClientFlags) =>
      print(await withCloud(o, (c) => c.admin.describeDag(name))),
  );
  withFlags(dag.command("rm <name>").description("remove a DAG"), client).action(
    async (name: string, o: ClientFlags) => {
      const removed = await withCloud(o, (c) => c.admin.removeDag(name));
      if (!removed) throw new NotFoundError(`no DAG named ${name}`);
      print({ removed });
    },
  );

  const kv = program.command("kv").description("read and write keys");
  withFlags(kv.command("get <key>").description("print a key's value as JSON"), client).action(
    async (key: string, o: ClientFlags) => {
      const v = await withCloud(o, (c) => c.get(key));
      if (v === undefined) throw new NotFoundError(`no value under ${key}`);
      process.stdout.write(JSON.stringify({ value: v }, jsonReplacer, 2) + "\n");
    },
  );
  withFlags(
    kv.command("put <key> <json>").description("write a JSON value (last writer wins)"),
    client,
  ).action(async (key: string, json: string, o: ClientFlags) => {
    const value = parseJson(json, "value");
    await withCloud(o, (c) => c.put(key, value));
    print({ ok: true });
  });
  withFlags(
    kv
      .command("merge <key>")
      .description("merge a lattice into a key: give exactly one of the lattice flags")
      .option("--counter <n>", "add n to a counter", number)
      .option("--set <json>", "add a JSON array's elements to a set")
      .option("--max <n>", "keep the larger of n and the key's number", number)
      .option("--min <n>", "keep the smaller of n and the key's number", number),
    client,
  ).action(async (key: string, o: MergeFlags) => {
    const lattice = mergeLattice(o);
    await withCloud(o, (c) => c.merge(key, lattice));
    print({ ok: true });
  });
  withFlags(kv.command("rm <key>").description("delete a key"), client).action(
    async (key: string, o: ClientFlags) => {
      await withCloud(o, (c) => c.delete(key));
      print({ ok: true });
    },
  );

  withFlags(
    program
      .command("dev <file>")
      .description("deploy a module, then again on every save under its folder, until Ctrl-C"),
    client,
  ).action(async (file: string, o: ClientFlags) => {
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    await withCloud(o, (c) =>
      watchAndDeploy({
        file,
        deploy: () => deploy(c, file),
        signal: stop.signal,
        report: (r) => {
          const at = new Date().toISOString().slice(11, 19);
          if (r.ok) {
            const { functions, dags } = r.value as { functions: string[]; dags: string[] };
            const what = [...functions, ...dags.map((d) => `dag ${d}`)].join(", ");
            process.stdout.write(`${at} deployed ${what}\n`);
          } else {
            const e = r.error as { code?: string; message?: string };
            const msg = `${e.code ?? "ERROR"}: ${e.message ?? String(r.error)}`;
            process.stderr.write(`${at} not deployed: ${out.redactor.scrub(msg)}\n`);
            process.stdout.write(`${at} deploy failed; waiting for the next save\n`);
          }
        },
      }),
    );
  });

  const runs = program.command("runs").description("runs in flight");
  withFlags(
    runs
      .command("cancel <id>")
      .description(
        "cancel a run in flight, by the id of its future (or its run id): its functions stop and its caller gets CANCELLED",
      ),
    client,
  ).action(async (id: string, o: ClientFlags) => {
    await withCloud(o, (c) => c.admin.cancelRun(id));
    print({ cancelled: true });
  });
}

/** The lattice `kv merge`'s flags name; exactly one flag must be given. */
export function mergeLattice(o: MergeFlags): Lattice {
  const given = (["counter", "set", "max", "min"] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) {
    throw new InvalidArgumentError(
      `give exactly one of --counter, --set, --max, --min (got ${given.length === 0 ? "none" : given.map((k) => `--${k}`).join(", ")})`,
    );
  }
  if (o.counter !== undefined) return lattices.counter(o.counter);
  if (o.max !== undefined) return lattices.max(o.max);
  if (o.min !== undefined) return lattices.min(o.min);
  const items = parseJson(o.set ?? "[]", "--set");
  if (!Array.isArray(items)) throw InvalidArgumentError.field("--set", "must be a JSON array");
  return lattices.set(items);
}

/** JSON for values JSON has no form for: bigint as a string, Map as an object, Set as an array. */
function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Map) return Object.fromEntries(v as Map<string, unknown>);
  if (v instanceof Set) return [...(v as Set<unknown>)];
  return v;
}

/**
 * The commands that talk to a running cluster as a client: `deploy`, `call`, `dag`, `schedule`,
 * `unschedule`, `schedules` and `status`. Each prints JSON (or, for `status`, tables) on stdout.
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { Stratus } from "../../client/index.js";
import type { CallOptions } from "../../client/index.js";
import { InvalidArgumentError } from "../../errors/index.js";
import type { ClusterStats } from "../../stats/index.js";
import { connect } from "../../wire/index.js";
import { request } from "../../protocol/index.js";
import type { TlsClientOptions } from "../../wire/index.js";
import { parseJson, resolveTarget } from "../config.js";
import { deploy } from "../deploy.js";
import { client, consistency, withFlags } from "../flags.js";
import type { ClientFlags, ConsistencyFlags } from "../flags.js";
import type { CliOutput } from "../log.js";
import { formatSchedules, staleClusterError } from "../hints.js";
import { formatStatus } from "../status.js";
import { logsCommand } from "./logs.js";

type RunFlags = ClientFlags & ConsistencyFlags;

interface ScheduleFlags extends ClientFlags {
  fn?: string;
  args?: string;
  dag?: string;
  inputs?: string;
}

/** Registers the client commands on `program`; answers the `dag` command, for its subcommands. */
export function clientCommands(program: Command, out: CliOutput): Command {
  const withCloud = <T>(o: ClientFlags, fn: (c: Stratus) => Promise<T>): Promise<T> =>
    cloudCall(o, out, fn);

  withFlags(
    program
      .command("deploy <file>")
      .description("bundle a module with esbuild and register its exported functions (and `dags`)"),
    client,
  ).action(async (file: string, o: ClientFlags) =>
    print(await withCloud(o, (c) => deploy(c, file))),
  );

  withFlags(
    program
      .command("call <fn> [args]")
      .description("call a function with a JSON array of arguments"),
    consistency,
    client,
  ).action(async (fn: string, args: string | undefined, o: RunFlags) => {
    const list = args === undefined ? [] : parseJson(args, "args");
    print(
      await withCloud(o, (c) => c.call(fn, Array.isArray(list) ? list : [list], runOptions(o))),
    );
  });

  // `dag <name>` runs a DAG; `dag list|describe|rm` (admin.ts) are its subcommands. Positional
  // options: a subcommand's flags are its own, not taken by `dag` itself.
  const dag = program
    .command("dag")
    .description('run a DAG; inputs is JSON like {"inc": [1]} (also: dag list|describe|rm)')
    .argument("<name>")
    .argument("[inputs]")
    .enablePositionalOptions();
  withFlags(dag, consistency, client).action(
    async (name: string, inputs: string | undefined, o: RunFlags) => {
      const parsed = (inputs === undefined ? {} : parseJson(inputs, "inputs")) as Record<
        string,
        unknown[]
      >;
      print(await withCloud(o, (c) => c.callDag(name, parsed, runOptions(o))));
    },
  );

  withFlags(
    program
      .command("schedule <name> <cron>")
      .description(
        "call a function (--fn f --args '[..]') or run a DAG (--dag d --inputs '{..}') at every tick of a cron expression (UTC; six fields for seconds)",
      )
      .option("--fn <fn>", "function to call")
      .option("--args <json>", "JSON array of the function's arguments")
      .option("--dag <dag>", "DAG to run")
      .option("--inputs <json>", 'JSON inputs of the DAG, like {"inc": [1]}'),
    client,
  ).action(async (name: string, cron: string, o: ScheduleFlags) => {
    const json = (v: unknown, what: string): unknown =>
      typeof v === "string" ? parseJson(v, what) : undefined;
    const t =
      typeof o.dag === "string"
        ? { dag: o.dag, inputs: (json(o.inputs, "inputs") ?? {}) as Record<string, unknown[]> }
        : {
            fn: typeof o.fn === "string" ? o.fn : "",
            args: (json(o.args, "args") ?? []) as unknown[],
          };
    if ((typeof o.fn === "string") === (typeof o.dag === "string")) {
      throw new InvalidArgumentError("give exactly one of --fn and --dag");
    }
    print(await withCloud(o, (c) => c.schedule(name, cron, t)));
  });

  withFlags(program.command("unschedule <name>").description("remove a schedule"), client).action(
    async (name: string, o: ClientFlags) =>
      print({ removed: await withCloud(o, (c) => c.unschedule(name)) }),
  );

  withFlags(
    program
      .command("schedules")
      .description("list schedules and their next ticks (UTC, and how far away)")
      .option("--json", "print JSON (next ticks as epoch ms) for scripts"),
    client,
  ).action(async (o: ClientFlags & { json?: true }) => {
    const list = await withCloud(o, (c) => c.schedules());
    if (o.json === true) print(list);
    else process.stdout.write(formatSchedules(list, Date.now()));
  });

  withFlags(
    program
      .command("status")
      .description("nodes, executors, load, functions and DAGs, with their statistics")
      .option("--json", "print JSON (the status and a `stats` object) for scripts"),
    client,
  ).action(async (o: ClientFlags & { json?: true }) => {
    const status = await withCloud(o, (c) => c.status());
    const { url, token } = resolveTarget(o);
    const tls = clientTls(o);
    const conn = await connect(url, {
      token,
      role: "client",
      id: "stratus-status",
      ...(tls && { tls }),
    });
    let stats: ClusterStats;
    try {
      stats = await request(conn, "cluster.stats", {});
    } finally {
      await conn.close();
    }
    const report = { ...status, stats };
    if (o.json === true) print(report);
    else process.stdout.write(formatStatus(report, url));
  });

  logsCommand(program, withCloud);
  return dag;
}

/** Connects as the flags say, runs `fn` with the client, and closes it. */
export async function cloudCall<T>(
  o: ClientFlags,
  out: CliOutput,
  fn: (c: Stratus) => Promise<T>,
): Promise<T> {
  const { url, token, savedIn } = resolveTarget(o);
  out.redactor.add(token);
  const tls = clientTls(o);
  const cloud = await Stratus.connect(url, { token, ...(tls && { tls }) }).catch((e: unknown) => {
    throw staleClusterError(e, url, savedIn);
  });
  try {
    return await fn(cloud);
  } finally {
    await cloud.close();
  }
}

/** What a client command trusts for `stratuss://`: `--tls-ca`, else the system's CAs. */
function clientTls(o: ClientFlags): TlsClientOptions | undefined {
  if (typeof o.tlsCa !== "string") return undefined;
  try {
    return { ca: readFileSync(o.tlsCa) };
  } catch (e) {
    throw InvalidArgumentError.field("--tls-ca", `cannot read ${o.tlsCa}: ${(e as Error).message}`);
  }
}

function runOptions(o: ConsistencyFlags): CallOptions {
  return typeof o.consistency === "string"
    ? { consistency: o.consistency as CallOptions["consistency"] }
    : {};
}

/** Prints a command's answer as indented JSON. */
export const print = (v: unknown): void =>
  void process.stdout.write(JSON.stringify(v, null, 2) + "\n");

/**
 * A Dockerfile carried out without Docker, for a test on a machine that has no Docker engine:
 * the file's own FROM, WORKDIR, ENV, COPY, RUN, USER, EXPOSE, ENTRYPOINT and CMD lines, each
 * stage in an empty directory standing for its root filesystem, COPY from the build context less
 * what `.dockerignore` excludes. Base images are not pulled: RUN lines run on this machine's Node
 * and npm, which is what stands in for `node:20-slim`. An instruction it does not know stops it,
 * so the Dockerfile cannot grow a step this stand-in silently skips.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, posix, relative, sep } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

/** The stages of a Dockerfile: continuation lines joined, comments and blank lines dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m === null) throw new Error(`Dockerfile: cannot read ${JSON.stringify(line)}`);
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (f === null) throw new Error(`Dockerfile: FROM ${args}`);
      stages.push({ name: f[2] ?? String(stages.length), from: f[1] as string, steps: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`Dockerfile: ${op} before FROM`);
      stage.steps.push({ op, args });
    }
  }
  return stages;
}

/** `.dockerignore` patterns as tests on context-relative paths (a pattern covers what is under it). */
export function dockerignore(context: string): (rel: string) => boolean {
  const file = join(context, ".dockerignore");
  if (!existsSync(file)) return () => false;
  const res = readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((p) => {
      if (p.startsWith("!")) throw new Error(`.dockerignore: exceptions (${p}) are not handled`);
      const body = posix
        .normalize(p.replace(/^\/+/, ""))
        .split("**")
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, "[^/]*")
            .replace(/\?/g, "[^/]"),
        )
        .join(".*");
      return new RegExp(`^${body}(/.*)?$`);
    });
  return (rel) => res.some((re) => re.test(rel.split(sep).join("/")));
}

/** The JSON (exec) form of ENTRYPOINT and CMD; the shell form is not handled. */
function execForm(op: string, args: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    throw new Error(`Dockerfile: ${op} ${args} is not in exec form (a JSON array)`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new Error(`Dockerfile: ${op} must be an array of strings`);
  }
  return v;
}

/** What a built image holds and how it starts. */
export interface Image {
  /** The final stage's root directory; `/app` of the image is `join(root, "app")`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  exposed: number[];
  entrypoint: string[];
  cmd: string[];
}

export interface BuildOptions {
  /** The build context (the repository). */
  context: string;
  /** An empty directory; each stage gets its own directory under it. */
  dir: string;
  /** The environment RUN lines start from (the base image's); ENV lines add to it. */
  baseEnv: Record<string, string>;
  /** Longest a RUN line may take. */
  runTimeoutMs: number;
  /** Told of each step as it starts. */
  log?: (line: string) => void;
}

/**
 * Carries out every stage of `stages` in order and returns the last one as the image. A RUN
 * line that fails rejects with its output.
 */
export async function buildImage(stages: Stage[], o: BuildOptions): Promise<Image> {
  const ignored = dockerignore(o.context);
  const roots = new Map<string, string>();
  let image: Image | undefined;
  for (const [i, stage] of stages.entries()) {
    const root = join(o.dir, `stage-${i}-${stage.name}`);
    mkdirSync(root, { recursive: true });
    roots.set(stage.name, root);
    const img: Image = {
      root,
      workdir: "/",
      env: {},
      user: undefined,
      exposed: [],
      entrypoint: [],
      cmd: [],
    };
    const inRoot = (p: string): string => join(root, posix.resolve(img.workdir, p));
    for (const { op, args } of stage.steps) {
      o.log?.(`${stage.name}: ${op} ${args}`);
      if (op === "WORKDIR") {
        img.workdir = posix.resolve(img.workdir, args);
        mkdirSync(inRoot("."), { recursive: true });
      } else if (op === "ENV") {
        for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) {
          img.env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, "");
        }
      } else if (op === "USER") {
        img.user = args;
      } else if (op === "EXPOSE") {
        img.exposed.push(...args.split(/\s+/).map((p) => Number(p.replace(/\/tcp$/, ""))));
      } else if (op === "ENTRYPOINT") {
        img.entrypoint = execForm(op, args);
      } else if (op === "CMD") {
        img.cmd = execForm(op, args);
      } else if (op === "COPY") {
        copy(args, inRoot, (from) => {
          const r = roots.get(from);
          if (r === undefined) throw new Error(`Dockerfile: COPY --from=${from}: no such stage`);
          return r;
        });
      } else if (op === "RUN") {
        try {
          await run("sh", ["-c", args], {
            cwd: inRoot("."),
            env: { ...o.baseEnv, ...img.env },
            timeout: o.runTimeoutMs,
            maxBuffer: 64 * 1024 * 1024,
          });
        } catch (e) {
          const err = e as Error & { stdout?: string; stderr?: string };
          throw new Error(
            `RUN ${args} failed in stage ${stage.name}: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`,
            { cause: e },
          );
        }
      } else {
        throw new Error(`Dockerfile: ${op} is not handled by this stand-in for docker build`);
      }
    }
    image = img;
  }
  if (image === undefined) throw new Error("Dockerfile: no FROM");
  return image;

  function copy(
    args: string,
    inRoot: (p: string) => string,
    stageRoot: (name: string) => string,
  ): void {
    const words = args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith("--"));
    const paths = words.filter((w) => !w.startsWith("--"));
    let fromRoot: string | undefined;
    for (const f of flags) {
      const m = /^--from=(\S+)$/.exec(f);
      if (m === null) throw new Error(`Dockerfile: COPY ${f} is not handled`);
      fromRoot = stageRoot(m[1] as string);
    }
    const dest = paths.pop();
    if (dest === undefined || paths.length === 0) throw new Error(`Dockerfile: COPY ${args}`);
    const intoDir = dest.endsWith("/") || paths.length > 1;
    for (const src of paths) {
      if (/[*?[]/.test(src)) throw new Error(`Dockerfile: COPY ${src}: wildcards are not handled`);
      let from: string;
      if (fromRoot !== undefined) {
        from = join(fromRoot, posix.resolve("/", src));
      } else {
        from = join(o.context, posix.normalize(src));
        if (relative(o.context, from).startsWith("..")) {
          throw new Error(`Dockerfile: COPY ${src} is outside the build context`);
        }
      }
      if (!existsSync(from)) throw new Error(`Dockerfile: COPY ${src}: not found`);
      const to =
        intoDir && !statSync(from).isDirectory()
          ? join(inRoot(dest), basename(from))
          : inRoot(dest);
      mkdirSync(statSync(from).isDirectory() ? to : dirname(to), { recursive: true });
      cpSync(from, to, {
        recursive: true,
        verbatimSymlinks: true,
        // The context less .dockerignore; another stage's files as they are.
        filter: (p) => fromRoot !== undefined || !ignored(relative(o.context, p)),
      });
    }
  }
}

/**
 * The Dockerfile and the Kubernetes manifests in deploy/, checked offline (no cluster or Docker
 * engine runs here): every manifest is valid against the Kubernetes API's schemas, unknown fields
 * included; every flag a container passes is one the real `stratus <command> --help` lists,
 * ports line up between flags, containers and Services, selectors select their pods, and the
 * token and store password come from the Secret, never from arguments.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { freePort } from "../../testing/redis.js";
import { schemaErrors } from "../../testing/kubernetes.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const k8s = join(root, "deploy", "kubernetes");

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: object };
  }[];
  ports?: { name?: string; containerPort: number }[];
}
interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    serviceName?: string;
    clusterIP?: string;
    ports?: { name: string; port: number; targetPort: string | number }[];
    template?: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } };
  };
  stringData?: Record<string, string>;
}

const manifests: Manifest[] = readdirSync(k8s)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(k8s, f), "utf8")).map((d) => {
      assert.equal(d.errors.length, 0, `${f}: ${d.errors.map((e) => e.message).join("; ")}`);
      return d.toJS() as Manifest;
    }),
  );

const find = (kind: string, name: string): Manifest =>
  manifests.find((m) => m.kind === kind && m.metadata.name === name) ??
  assert.fail(`no ${kind} ${name} in deploy/kubernetes`);
const containerOf = (m: Manifest): Container =>
  m.spec?.template?.spec.containers[0] ?? assert.fail(`${m.metadata.name} has no container`);

/** Each long flag of `stratus <command> --help`, with whether it takes a value. */
async function cliFlags(command: string): Promise<Map<string, boolean>> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", command, "--help"],
    { cwd: root },
  );
  const flags = new Map<string, boolean>();
  for (const m of stdout.matchAll(/(--[a-z][a-z0-9-]*)( <[^>]+>)?/g)) {
    flags.set(m[1] as string, m[2] !== undefined);
  }
  return flags;
}

/** `--flag value` pairs of a container's args, checked against the CLI's flags. */
function parseArgs(args: string[], flags: Map<string, boolean>, who: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    assert.ok(flags.has(a), `${who}: ${a} is not a flag of the CLI`);
    if (flags.get(a) === true) {
      const v = args[++i];
      assert.ok(v !== undefined && !v.startsWith("--"), `${who}: ${a} needs a value`);
      out.set(a, v);
    } else out.set(a, "true");
  }
  return out;
}

describe("deploy: Kubernetes manifests and Dockerfile", () => {
  const help = new Map<string, Map<string, boolean>>();
  before(async () => {
    for (const c of ["scheduler", "node"]) help.set(c, await cliFlags(c));
  });

  it("are valid against the Kubernetes schemas, and invalid ones are caught", () => {
    assert.ok(manifests.length >= 6, "every manifest file was read");
    for (const m of manifests) {
      assert.deepEqual(schemaErrors(m), [], `${m.kind} ${m.metadata.name}`);
    }
    // Controls: each kind of mistake the schemas exist to catch, on a copy of a real manifest.
    type Obj = Record<string, unknown>;
    const broken = (edit: (container: Obj, port: Obj, spec: Obj) => void): string => {
      const copy = structuredClone(find("Deployment", "stratus-node"));
      const c = containerOf(copy) as unknown as Obj;
      edit(c, (c.ports as Obj[])[0] as Obj, copy.spec as Obj);
      return schemaErrors(copy).join("; ");
    };
    assert.match(
      broken((_c, port) => (port.containerPort = "7400")),
      /containerPort must be integer/,
    );
    assert.match(
      broken((c) => (c.imagePullPolcy = "Always")),
      /imagePullPolcy is not a field of V1Container/,
    );
    assert.match(
      broken((_c, _p, spec) => delete spec.selector),
      /spec must have required property selector/,
    );
    assert.match(
      broken((_c, port) => (port.protocol = "HTTP")),
      /allowed values/,
    );
    assert.deepEqual(schemaErrors({ apiVersion: "v9", kind: "Pod" }), ["no schema for v9 Pod"]);
  });

  it("runs schedulers and nodes from one stratus image with flags the CLI has", () => {
    const images = new Set<string>();
    for (const [name, command] of [
      ["stratus-scheduler", "scheduler"],
      ["stratus-node", "node"],
    ] as const) {
      const c = containerOf(find("Deployment", name));
      images.add(c.image);
      const [sub, ...rest] = c.args ?? [];
      assert.equal(sub, command, `${name} runs stratus ${command}`);
      const args = parseArgs(rest, help.get(command) ?? new Map<string, boolean>(), name);
      const port = (flag: string): number => Number(args.get(flag));
      const ports = new Map((c.ports ?? []).map((p) => [p.name ?? "", p.containerPort]));
      assert.equal(ports.get("wire"), port("--port"), `${name}: wire port is --port`);
      assert.equal(ports.get("metrics"), port("--metrics-port"));
      assert.equal(args.get("--host"), "0.0.0.0", `${name} listens beyond loopback`);
      assert.equal(args.get("--advertise"), `stratus://$(POD_IP):${port("--port")}`);
      assert.ok(
        c.env?.some((e) => e.name === "POD_IP" && e.valueFrom?.fieldRef !== undefined),
        `${name}: POD_IP from the downward API`,
      );
      if (command === "scheduler") {
        assert.equal(ports.get("http"), port("--http-port"));
        const redis = find("Service", "redis").spec?.ports?.[0];
        assert.equal(args.get("--store"), `redis://redis:${redis?.port}`);
      } else {
        const svc = find("Service", "stratus-scheduler").spec?.ports?.find(
          (p) => p.name === "wire",
        );
        assert.equal(args.get("--join"), `stratus://stratus-scheduler:${svc?.port}`);
        assert.ok(Number(args.get("--executors")) > 0);
      }
    }
    assert.deepEqual([...images], ["stratus:0.1.0"], "one image for both roles");
    // Control: a flag the CLI does not have is caught.
    const nodeFlags = help.get("node") ?? new Map<string, boolean>();
    assert.throws(() => parseArgs(["--executor", "4"], nodeFlags, "control"), /not a flag/);
  });

  it("takes the token and the store password from the Secret, never from arguments", () => {
    const secret = find("Secret", "stratus");
    const keys = Object.keys(secret.stringData ?? {});
    for (const name of ["stratus-scheduler", "stratus-node"]) {
      const c = containerOf(find("Deployment", name));
      assert.ok(!(c.args ?? []).some((a) => /token|password/.test(a)), `${name}: secrets in args`);
      for (const v of ["STRATUS_TOKEN", "STRATUS_STORE_PASSWORD"]) {
        const ref = c.env?.find((e) => e.name === v)?.valueFrom?.secretKeyRef;
        assert.equal(ref?.name, "stratus", `${name}: ${v} from the Secret`);
        assert.ok(keys.includes(ref.key), `${name}: ${v} names a key the Secret has`);
      }
    }
    const redis = containerOf(find("StatefulSet", "redis"));
    assert.equal(
      redis.env?.find((e) => e.name === "REDIS_PASSWORD")?.valueFrom?.secretKeyRef?.key,
      "redis-password",
    );
  });

  it("runs Redis with the Secret's password, which never appears in its arguments", async () => {
    const c = containerOf(find("StatefulSet", "redis"));
    const [shell, flag, ...rest] = [...(c.command ?? []), ...(c.args ?? [])];
    assert.equal(shell, "sh");
    assert.equal(flag, "-c");
    assert.equal(rest.length, 1, "one script");
    // The pod's /tmp and volume are directories here; the port and bind are this machine's.
    const dir = mkdtempSync(join(tmpdir(), "stratus-k8s-redis-"));
    const port = await freePort();
    const script =
      (rest[0] as string).replaceAll("/tmp/", `${dir}/`).replaceAll("/data", dir) +
      ` --port ${port} --bind 127.0.0.1`;
    const password = "k8s-redis-password-7f3a";
    const redis = spawn(shell, [flag, script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", REDIS_PASSWORD: password },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      await new Promise<void>((resolve, reject) => {
        redis.on("exit", (code) => reject(new Error(`redis exited (${code}): ${out}`)));
        redis.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("Ready to accept connections")) resolve();
        });
      });
      redis.removeAllListeners("exit");
      // What `ps` shows of the server (Redis retitles itself once up, so the exec line is
      // checked too: that is what `ps` shows while it starts).
      const cmdline = readFileSync(`/proc/${redis.pid}/cmdline`, "utf8");
      assert.match(cmdline, /^redis-server/);
      assert.ok(!cmdline.includes(password), cmdline);
      const exec = /exec redis-server[^\n]*/.exec(rest[0] as string)?.[0] ?? "";
      assert.doesNotMatch(exec, /REDIS_PASSWORD|requirepass/);
      const cli = async (args: string[], auth?: string): Promise<string> =>
        (
          await run("redis-cli", ["-p", String(port), ...args], {
            env: { ...process.env, REDISCLI_AUTH: auth ?? "" },
          })
        ).stdout.trim();
      assert.match(await cli(["PING"]), /NOAUTH/);
      assert.equal(await cli(["PING"], password), "PONG");
      assert.equal(await cli(["CONFIG", "GET", "appendonly"], password), "appendonly\nyes");
    } finally {
      const exited = once(redis, "exit");
      redis.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has Services whose selectors pick their pods and whose target ports exist", () => {
    for (const svc of manifests.filter((m) => m.kind === "Service")) {
      const selector = svc.spec?.selector ?? {};
      const workload = manifests.find(
        (m) =>
          m.kind !== "Service" &&
          Object.entries(selector).every(([k, v]) => m.spec?.template?.metadata.labels[k] === v),
      );
      assert.ok(workload !== undefined, `Service ${svc.metadata.name} selects no pods`);
      const names = new Set(containerOf(workload).ports?.map((p) => p.name));
      for (const p of svc.spec?.ports ?? []) {
        assert.ok(names.has(String(p.targetPort)), `${svc.metadata.name}: ${p.targetPort}`);
      }
    }
    for (const m of manifests.filter((x) => x.kind === "Deployment" || x.kind === "StatefulSet")) {
      const want = m.spec?.selector?.matchLabels ?? {};
      for (const [k, v] of Object.entries(want)) {
        assert.equal(m.spec?.template?.metadata.labels[k], v, `${m.metadata.name} selector`);
      }
    }
    const redis = find("StatefulSet", "redis");
    assert.equal(find("Service", redis.spec?.serviceName ?? "").spec?.clusterIP, "None");
  });

  it("builds the image in two node:20-slim stages and runs the compiled CLI", () => {
    const docker = readFileSync(join(root, "Dockerfile"), "utf8");
    const froms = [...docker.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(froms, ["node:20-slim", "node:20-slim"]);
    assert.match(docker, /RUN npm ci/);
    assert.match(docker, /npm run build/);
    assert.match(docker, /^ENTRYPOINT \["node", "\/app\/bin\/stratus\.js"\]$/m);
    assert.ok(existsSync(join(root, "bin", "stratus.js")));
    // The run stage has no tsconfig.json or src/, so bin/stratus.js takes dist/.
    const runStage = docker.slice(docker.lastIndexOf("FROM "));
    assert.doesNotMatch(runStage, /COPY[^\n]*(tsconfig|src)/);
    const exposed = (/^EXPOSE (.+)$/m.exec(docker)?.[1] ?? "").split(/\s+/).map(Number);
    const sched = containerOf(find("Deployment", "stratus-scheduler"));
    for (const p of sched.ports ?? []) assert.ok(exposed.includes(p.containerPort));
  });

  it("has an example config file whose keys are the CLI's flags", () => {
    const example = parse(
      readFileSync(join(root, "deploy", "stratus.example.yaml"), "utf8"),
    ) as Record<string, unknown>;
    const has = (cmd: string, key: string): boolean => help.get(cmd)?.has(`--${key}`) === true;
    for (const [key, value] of Object.entries(example)) {
      if (key === "scheduler" || key === "node") {
        for (const k of Object.keys(value as object)) assert.ok(has(key, k), `${key}.${k}`);
      } else assert.ok(has("scheduler", key) || has("node", key), key);
    }
  });
});

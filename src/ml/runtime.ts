/**
 * Saving models to Stratus state and loading them, once per executor worker, from a function.
 *
 * `ml/<name>` holds a small manifest and `ml/<name>@<version>` the bytes. A function reads the
 * manifest on every use (one hop to its node; the worker holds the version, so nothing is copied
 * unless it changed) and reads the bytes only when its worker has not loaded that version yet.
 */
import { createHash } from "node:crypto";
import { NoSuchModelError } from "../errors/index.js";
import { LanguageId } from "./lid.js";
import { Model, runsInFlight } from "./model.js";
import type { BuiltModel, ModelManifest, StateReader, StateWriter } from "./types.js";

/** The key of a model's manifest. */
export const manifestKey = (name: string): string => `ml/${name}`;

/**
 * Saves a model under `name`: the bytes first, then the manifest, so a manifest never points at
 * bytes that are not there. Returns the manifest. Saving the same bytes again changes nothing.
 *
 * @example
 * ```ts
 * await saveModel(cloud, "cnn-small", cnnSmall({ seed: 1 }));
 * ```
 */
export async function saveModel(
  to: StateWriter,
  name: string,
  built: BuiltModel,
): Promise<ModelManifest> {
  const version = createHash("sha256").update(built.bytes).digest("hex").slice(0, 16);
  const manifest: ModelManifest = {
    name,
    version,
    format: built.format,
    inputs: built.inputs,
    outputs: built.outputs,
    bytesKey: `${manifestKey(name)}@${version}`,
    size: built.bytes.byteLength,
  };
  await to.put(manifest.bytesKey, built.bytes);
  await to.put(manifestKey(name), manifest);
  return manifest;
}

// Told apart by their manifest's format, not by `instanceof`: a model loaded by one function's
// bundle is an instance of that bundle's copy of the class, not of the caller's.
type Loaded = Model | LanguageId;

/** What this worker has loaded. */
interface Registry {
  entries: Map<string, Promise<Loaded>>;
  loads: number;
}

/** Most models a worker keeps loaded; the least recently used goes first. */
const MAX_LOADED = 8;

// Each function is bundled separately, each bundle with its own copy of this module. The worker's
// global, under a registered symbol, is the one place they all see, so a model that several
// functions use is still loaded once per worker.
const KEY = Symbol.for("stratus.ml.loaded");
function registry(): Registry {
  const g = globalThis as { [KEY]?: Registry };
  if (g[KEY] === undefined) {
    const r: Registry = { entries: new Map(), loads: 0 };
    g[KEY] = r;
    beforeExit(() => releaseAll(r));
  }
  return g[KEY];
}

// The worker's before-exit hooks (BEFORE_EXIT in src/node/executor/types.ts; the same registered
// symbol, since this module is bundled into user code and does not import the executor).
const BEFORE_EXIT = Symbol.for("stratus.worker.beforeExit");

function beforeExit(hook: () => Promise<void>): void {
  const g = globalThis as { [BEFORE_EXIT]?: Set<() => unknown> };
  (g[BEFORE_EXIT] ??= new Set()).add(hook);
}

/**
 * Before the worker exits: lets the runs in flight finish, then closes every session. Exiting
 * under a running inference, or with a session open, aborts the whole process (onnxruntime-node
 * throws from a native callback into a torn-down thread).
 */
async function releaseAll(r: Registry): Promise<void> {
  await Promise.allSettled([...runsInFlight()]);
  const loaded = await Promise.allSettled([...r.entries.values()]);
  r.entries.clear();
  await Promise.allSettled(
    loaded.map(async (l) => {
      if (l.status === "fulfilled" && l.value instanceof Model) await l.value.release();
    }),
  );
}

/** This worker's loads (how many times it read a model's bytes to load it) and what it holds. */
export function mlStats(): { loads: number; loaded: string[] } {
  const r = registry();
  return { loads: r.loads, loaded: [...r.entries.keys()] };
}

function isManifest(v: unknown): v is ModelManifest {
  const m = v as Partial<ModelManifest> | undefined;
  return (
    typeof m === "object" &&
    m !== null &&
    typeof m.name === "string" &&
    typeof m.version === "string" &&
    (m.format === "onnx" || m.format === "fasttext") &&
    Array.isArray(m.inputs) &&
    Array.isArray(m.outputs) &&
    typeof m.bytesKey === "string" &&
    typeof m.size === "number"
  );
}

async function manifestOf(state: StateReader, name: string): Promise<ModelManifest> {
  if (typeof name !== "string" || name.length === 0) {
    throw new NoSuchModelError("a model name must be a non-empty string", { details: { name } });
  }
  const m = await state.get(manifestKey(name));
  if (!isManifest(m)) {
    throw new NoSuchModelError(`no model is saved under ${JSON.stringify(name)}`, {
      details: { name, key: manifestKey(name) },
    });
  }
  return m;
}

async function create(state: StateReader, m: ModelManifest): Promise<Loaded> {
  const bytes = await state.get(m.bytesKey);
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== m.size) {
    throw new NoSuchModelError(`model ${m.name}@${m.version}: its bytes are missing or damaged`, {
      details: { name: m.name, version: m.version, key: m.bytesKey },
    });
  }
  registry().loads++;
  return m.format === "onnx" ? Model.create(m, bytes) : LanguageId.create(m, bytes);
}

async function load(state: StateReader, name: string): Promise<Loaded> {
  const m = await manifestOf(state, name);
  const r = registry();
  const id = `${m.name}@${m.version}`;
  let p = r.entries.get(id);
  if (p !== undefined) {
    r.entries.delete(id); // re-inserted below: most recently used last
  } else {
    p = create(state, m);
    // A failed load is not kept: the next call tries again (the bytes may have arrived since).
    p.catch(() => {
      if (r.entries.get(id) === p) r.entries.delete(id);
    });
  }
  r.entries.set(id, p);
  // Evicted models are not released here: the running call may still hold one. Collection frees
  // a session's native memory once nothing refers to it.
  while (r.entries.size > MAX_LOADED) r.entries.delete(r.entries.keys().next().value as string);
  return p;
}

/**
 * The ONNX model saved under `name`, loaded once per worker and version.
 *
 * @example
 * ```ts
 * export async function classify(ctx: Context, pixels: Float32Array) {
 *   const m = await model(ctx, "cnn-small");
 *   const { probs } = await m.run({ image: { data: pixels, dims: [1, 3, 64, 64] } });
 *   return probs.data;
 * }
 * ```
 */
export async function model(state: StateReader, name: string): Promise<Model> {
  const loaded = await load(state, name);
  if (loaded.manifest.format !== "onnx") {
    throw new NoSuchModelError(`model ${name} is not an ONNX model`, { details: { name } });
  }
  return loaded as Model;
}

/**
 * The fastText language-ID model saved under `name` (see `lid176()`), loaded once per worker.
 *
 * @example
 * ```ts
 * const lid = await languageId(ctx, "lid");
 * lid.identify("Hallo Welt, wie geht es dir?")[0]?.lang; // "de"
 * ```
 */
export async function languageId(state: StateReader, name: string): Promise<LanguageId> {
  const loaded = await load(state, name);
  if (loaded.manifest.format !== "fasttext") {
    throw new NoSuchModelError(`model ${name} is not a fastText model`, { details: { name } });
  }
  return loaded as LanguageId;
}

/**
 * Language identification with fastText's lid.176 model, which `fasttext.wasm.js` ships inside its
 * npm package (938 KB, 176 languages, about 10 µs a sentence in wasm). The model's bytes are saved
 * to Stratus state like any other model and handed to the wasm file system from there, so a
 * worker loads what state holds, not whatever file happens to be next to it.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadPackage, resolvePackageFile } from "./load.js";
import type { BuiltModel, ModelManifest } from "./types.js";

/** The slice of fasttext.wasm.js used here (its own types describe emscripten internals). */
interface FastTextPkg {
  getFastTextModule(): Promise<unknown>;
  getFastTextClass(o: { getFastTextModule: () => Promise<unknown> }): Promise<
    new () => {
      ft: NativeFastText;
      core: unknown;
      fs: { writeFile(p: string, b: Uint8Array): void };
    }
  >;
  FastTextModel: new (
    ft: NativeFastText,
    core: unknown,
  ) => { predict(t: string, k: number, th: number): Predictions };
}
interface NativeFastText {
  loadModel(path: string): void;
}
interface Predictions {
  size(): number;
  get(i: number): [number, string];
  delete?(): void;
}

/** A language guess: the fastText label (mostly ISO 639-1, e.g. `fr`) and its probability. */
export interface LanguageGuess {
  lang: string;
  p: number;
}

/**
 * The lid.176 model as shipped in fasttext.wasm.js, ready for `saveModel`.
 *
 * @example
 * ```ts
 * await saveModel(cloud, "lid", lid176());
 * ```
 */
export function lid176(): BuiltModel {
  const main = resolvePackageFile("fasttext.wasm.js"); // dist/main/node.cjs
  const file = join(
    dirname(main),
    "..",
    "models",
    "language-identification",
    "assets",
    "lid.176.ftz",
  );
  const bytes = new Uint8Array(readFileSync(file));
  return {
    format: "fasttext",
    bytes,
    // Text in, labels out: no tensors to describe.
    inputs: [],
    outputs: [],
  };
}

/**
 * One fastText model in one worker.
 *
 * @example
 * ```ts
 * const lid = await languageId(ctx, "lid");
 * lid.identify("Bonjour tout le monde"); // { lang: "fr", p: 0.99 }
 * ```
 */
export class LanguageId {
  private constructor(
    readonly manifest: ModelManifest,
    private readonly model: { predict(t: string, k: number, th: number): Predictions },
  ) {}

  static async create(manifest: ModelManifest, bytes: Uint8Array): Promise<LanguageId> {
    const pkg = loadPackage<FastTextPkg>("fasttext.wasm.js");
    const FastText = await pkg.getFastTextClass({
      getFastTextModule: () => pkg.getFastTextModule(),
    });
    const ft = new FastText();
    const path = `/${manifest.version}.ftz`;
    ft.fs.writeFile(path, bytes);
    ft.ft.loadModel(path);
    return new LanguageId(manifest, new pkg.FastTextModel(ft.ft, ft.core));
  }

  /** The `k` likeliest languages of `text`, likeliest first. Newlines are read as spaces. */
  identify(text: string, k = 1): LanguageGuess[] {
    const v = this.model.predict(String(text).replace(/\n/g, " "), k, 0);
    try {
      const out: LanguageGuess[] = [];
      for (let i = 0; i < v.size(); i++) {
        const [p, label] = v.get(i);
        out.push({ lang: label.replace("__label__", ""), p });
      }
      return out;
    } finally {
      v.delete?.(); // emscripten vectors live in wasm memory until deleted
    }
  }
}

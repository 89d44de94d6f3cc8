// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX, { createNodeResolver } from "eslint-plugin-import-x";

/** The modules executor worker threads load (src/node/executor/worker.ts and what it imports). */
const WORKER_FILES = [
  "./src/node/executor/worker.ts",
  "./src/node/executor/ctx.ts",
  "./src/node/executor/compile.ts",
  "./src/node/executor/memory.ts",
  "./src/node/executor/thrown.ts",
  "./src/node/executor/console.ts",
  "./src/node/executor/inbox.ts",
  "./src/node/executor/types.ts",
];

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "bench/results/**",
      "bench/.scratch/**",
      ".tmp/**",
      "test/types/fixtures/**",
      "docs/api/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    settings: {
      // ESM sources name their imports ".js"; the files are ".ts". Without the alias nothing
      // resolves and the import-x rules below see no imports at all.
      "import-x/resolver-next": [
        createNodeResolver({
          extensions: [".ts", ".js"],
          extensionAlias: { ".js": [".ts", ".js"], ".mjs": [".mts", ".mjs"] },
        }),
      ],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: "package", name: ["describe", "it", "test", "suite"], package: "node:test" },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      // The layering the code's comments promise, held by lint (type-only imports count too).
      "import-x/no-restricted-paths": [
        "error",
        {
          basePath: import.meta.dirname,
          zones: [
            {
              target: "./src/function",
              from: "./src",
              except: ["./function", "./lattice", "./errors"],
              message:
                "The function API sits below the engine: it imports lattices and errors only.",
            },
            {
              target: "./src/node",
              from: "./src/client",
              message: "The engine does not import the client.",
            },
            {
              target: "./src/client",
              from: ["./src/cluster", "./src/node", "./src/scheduler"],
              message:
                "The client carries no server: the protocol says what it sends; Stratus.local loads src/local lazily.",
            },
            {
              // Worker threads run these; each module they load is loaded by every worker.
              target: WORKER_FILES,
              from: [
                "./src/storage",
                "./src/state",
                "./src/cache",
                "./src/scheduler",
                "./src/cluster",
                "./src/consistency",
                "./src/stats",
                "./src/wire",
                "./src/client",
              ],
              message: "An executor worker loads no storage or server code.",
            },
            {
              target: "./src/node/**/!(worker).ts",
              from: "./src/txn",
              message:
                "node/ does not import src/txn: ctx.txn is src/function's Transactions, built by the worker entry.",
            },
            {
              target: "./src/node/executor/worker.ts",
              from: "./src/txn",
              except: ["./handle.ts"],
              message:
                "The worker entry takes the transaction client (txn/handle.ts) and nothing else of src/txn.",
            },
            {
              target: "./src",
              from: ["./test", "./bench", "./scripts"],
              message: "The product does not import its tests, benchmarks or scripts.",
            },
          ],
        },
      ],
      // Stratus functions are async by contract (the runtime awaits them); a body without
      // await is normal there.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { URL: "readonly", process: "readonly", console: "readonly" },
    },
  },
);

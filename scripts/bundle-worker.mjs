// Run by `npm run build` after tsc: writes the one file executor workers start from (see
// src/node/executor/entry.ts for why a bundle).
import { fileURLToPath } from "node:url";
import { writeWorkerBundle } from "../dist/node/executor/entry.js";

const dir = new URL("../dist/node/executor/", import.meta.url);
writeWorkerBundle(
  fileURLToPath(new URL("worker.js", dir)),
  fileURLToPath(new URL("worker.bundle.cjs", dir)),
);

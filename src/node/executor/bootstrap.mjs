// The fallback entry when the pool runs from TypeScript sources and cannot write its worker
// bundle (see entry.ts): it registers tsx in the worker, then imports the real entry named in
// workerData.entry. Slow (every worker compiles the TypeScript again), so only a fallback.
// Compiled builds (dist/*.js) start worker.bundle.cjs (or worker.js) and never load this file.
import { register } from "tsx/esm/api";
import { workerData } from "node:worker_threads";

register();
await import(workerData.entry);

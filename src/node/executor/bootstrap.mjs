// Worker threads do not inherit the tsx loader of the thread that starts them. When the executor
// runs from TypeScript sources (tests, `tsx`), the pool starts this file instead of worker.ts: it
// registers tsx in the worker, then imports the real entry named in workerData.entry.
// Compiled builds (dist/*.js) start worker.js directly and never load this file.
import { register } from "tsx/esm/api";
import { workerData } from "node:worker_threads";

register();
await import(workerData.entry);

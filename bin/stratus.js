#!/usr/bin/env node
// Runs the compiled CLI when it has been built (`npm run build`), the TypeScript sources otherwise.
import { existsSync } from "node:fs";
const compiled = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}

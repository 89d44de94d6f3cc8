#!/usr/bin/env node
// An installed package runs its compiled CLI (dist/, built by `prepack`) and needs nothing beyond
// its dependencies. A checkout of the repository (tsconfig.json is never packed) runs the
// TypeScript sources through tsx instead, so that it never runs a dist/ older than the sources.
import { existsSync } from "node:fs";

const at = (p) => new URL(p, import.meta.url);
if (existsSync(at("../tsconfig.json")) && existsSync(at("../src/cli/main.ts"))) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(at("../src/cli/main.ts").href);
} else if (existsSync(at("../dist/cli/main.js"))) {
  await import(at("../dist/cli/main.js").href);
} else {
  process.stderr.write(
    "stratus: dist/cli/main.js is missing; build the package with `npm run build`\n",
  );
  process.exit(1);
}

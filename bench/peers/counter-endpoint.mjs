// The Restate SDK endpoint of the `state` benchmark: a virtual object `counter` (one instance per
// key, exclusive handlers run one at a time per key) with `add(delta)` returning the new value and
// a shared `get()`. Run with plain node inside the benchmark's network namespace.
//
// usage: node bench/peers/counter-endpoint.mjs <scratch dir with node_modules> <port>
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

// The SDK 1.17 line calls Promise.withResolvers, which Node 20 lacks (it arrived in Node 22).
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const [scratch, portArg] = process.argv.slice(2);
if (scratch === undefined || portArg === undefined) {
  process.stderr.write("usage: node counter-endpoint.mjs <scratch dir> <port>\n");
  process.exit(2);
}
// The SDK lives in the scratch install, not in the project's node_modules.
const sdkDir = join(scratch, "node_modules", "@restatedev", "restate-sdk");
const sdkPkg = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8"));
const restate = await import(pathToFileURL(join(sdkDir, sdkPkg.exports["."].import)).href);

const counter = restate.object({
  name: "counter",
  handlers: {
    add: async (ctx, delta) => {
      const next = ((await ctx.get("n")) ?? 0) + delta;
      ctx.set("n", next);
      return next;
    },
    get: restate.handlers.object.shared(async (ctx) => (await ctx.get("n")) ?? 0),
  },
});

const port = Number(portArg);
const server = http2.createServer(restate.createEndpointHandler({ services: [counter] }));
server.on("error", (err) => {
  process.stderr.write(`counter endpoint: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => process.stdout.write(`listening on ${port}\n`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));

// The Restate SDK service endpoint for bench/peers.ts, run with plain node inside the benchmark's
// network namespace: `math.inc`, `math.square`, `chain.run`, which calls math.inc then
// math.square as two Restate service calls, and `pair.run` (inc, then a call of math.square).
//
// usage: node bench/peers/endpoint.mjs <scratch dir with node_modules> <port>
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
  process.stderr.write("usage: node endpoint.mjs <scratch dir> <port>\n");
  process.exit(2);
}
// The SDK lives in the scratch install, not in the project's node_modules: import it by path,
// through its package.json's ESM entry point.
const sdkDir = join(scratch, "node_modules", "@restatedev", "restate-sdk");
const sdkPkg = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8"));
const restate = await import(pathToFileURL(join(sdkDir, sdkPkg.exports["."].import)).href);

const math = restate.service({
  name: "math",
  handlers: {
    inc: async (_ctx, x) => x + 1,
    square: async (_ctx, x) => x * x,
  },
});

const chain = restate.service({
  name: "chain",
  handlers: {
    run: async (ctx, x) => {
      const m = ctx.serviceClient(math);
      const y = await m.inc(x);
      return await m.square(y);
    },
  },
});

// Two functions, each its own invocation (the shape bench/peers.ts compares with Stratus's
// unfused DAG): pair.run computes inc and calls math.square.
const pair = restate.service({
  name: "pair",
  handlers: {
    run: async (ctx, x) => await ctx.serviceClient(math).square(x + 1),
  },
});

const port = Number(portArg);
const server = http2.createServer(restate.createEndpointHandler({ services: [math, chain, pair] }));
server.on("error", (err) => {
  process.stderr.write(`endpoint: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => process.stdout.write(`listening on ${port}\n`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
